#include "util/zip_integrity.h"

#include <cstdint>
#include <stdexcept>

#ifdef XP_HAVE_ZLIB
#include <zlib.h>
#endif

#include "util/crc32c.h"

namespace xp {

namespace {

uint32_t u16(std::string_view s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8;
}

uint32_t u32(std::string_view s, size_t at) { return u16(s, at) | u16(s, at + 2) << 16; }

constexpr uint32_t kEndOfDirectory = 0x06054b50u, kDirectoryEntry = 0x02014b50u, kLocalHeader = 0x04034b50u;
constexpr size_t kEndSize = 22, kEntrySize = 46, kLocalSize = 30;

#ifdef XP_HAVE_ZLIB
// A deflated member's bytes, inflated (raw deflate, as zip stores it); empty with `why` set when
// the stream is damaged or does not give `size` bytes.
std::string inflate_member(std::string_view data, uint32_t size, std::string& why) {
  std::string out(size, '\0');
  z_stream z{};
  if (inflateInit2(&z, -15) != Z_OK) {
    why = "cannot start inflating";
    return {};
  }
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const uLong produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != size) {
    why = rc == Z_STREAM_END ? "inflates to " + std::to_string(produced) + " bytes, recorded " + std::to_string(size)
                             : "its deflate stream is damaged";
    return {};
  }
  return out;
}
#endif

}  // namespace

void check_zip_integrity(std::string_view zip, const std::string& what) {
  auto fail = [&](const std::string& why) { throw std::runtime_error(what + ": " + why); };
  if (zip.size() < kEndSize) fail("too short to be a zip archive (" + std::to_string(zip.size()) + " bytes)");
  // The end-of-directory record: the last one in the file (a comment of up to 64 KiB may follow).
  size_t end = std::string_view::npos;
  const size_t lowest = zip.size() > kEndSize + 65535 ? zip.size() - kEndSize - 65535 : 0;
  for (size_t at = zip.size() - kEndSize + 1; at-- > lowest;)
    if (u32(zip, at) == kEndOfDirectory) {
      end = at;
      break;
    }
  if (end == std::string_view::npos) fail("no zip end-of-directory record (truncated, or not a checkpoint)");
  const uint32_t entries = u16(zip, end + 10), directory_size = u32(zip, end + 12), directory_at = u32(zip, end + 16);
  if (entries == 0xFFFFu || directory_size == 0xFFFFFFFFu || directory_at == 0xFFFFFFFFu) return;  // Zip64
  if (static_cast<uint64_t>(directory_at) + directory_size > end)
    fail("the zip directory (" + std::to_string(directory_size) + " bytes at " + std::to_string(directory_at) +
         ") runs past the end record at " + std::to_string(end));
  size_t at = directory_at;
  for (uint32_t i = 0; i < entries; ++i) {
    if (at + kEntrySize > end || u32(zip, at) != kDirectoryEntry)
      fail("zip directory entry " + std::to_string(i) + " of " + std::to_string(entries) + " is damaged");
    const uint32_t method = u16(zip, at + 10), crc = u32(zip, at + 16), compressed = u32(zip, at + 20);
    const uint32_t size = u32(zip, at + 24);
    const uint32_t name_length = u16(zip, at + 28), extra_length = u16(zip, at + 30), comment_length = u16(zip, at + 32);
    const uint32_t local_at = u32(zip, at + 42);
    if (at + kEntrySize + name_length + extra_length + comment_length > end)
      fail("zip directory entry " + std::to_string(i) + " runs past the directory");
    const std::string name(zip.substr(at + kEntrySize, name_length));
    at += kEntrySize + name_length + extra_length + comment_length;
    if (compressed == 0xFFFFFFFFu || size == 0xFFFFFFFFu || local_at == 0xFFFFFFFFu) continue;  // Zip64: not here
    if (static_cast<uint64_t>(local_at) + kLocalSize > directory_at || u32(zip, local_at) != kLocalHeader)
      fail("member '" + name + "': no local header at byte " + std::to_string(local_at));
    const size_t data_at = local_at + kLocalSize + u16(zip, local_at + 26) + u16(zip, local_at + 28);
    if (static_cast<uint64_t>(data_at) + compressed > directory_at)
      fail("member '" + name + "' (" + std::to_string(compressed) + " bytes at " + std::to_string(data_at) +
           ") runs past the archive's data");
    const std::string_view data = zip.substr(data_at, compressed);
    uint32_t actual = 0;
    if (method == 0) {
      if (size != compressed) fail("member '" + name + "' is stored with two sizes (" + std::to_string(compressed) + ", " + std::to_string(size) + ")");
      actual = crc32(data);
    } else if (method == 8) {
#ifdef XP_HAVE_ZLIB
      // Deflate expands at most ~1032x: a larger recorded size is damage, not data to allocate.
      if (size / 1032 > compressed + 1) fail("member '" + name + "' records an impossible size (" + std::to_string(size) + " bytes)");
      std::string why;
      const std::string inflated = inflate_member(data, size, why);
      if (!why.empty()) fail("member '" + name + "' is corrupt (" + why + ")");
      actual = crc32(inflated);
#else
      continue;  // built without zlib: deflated members (LibTorch's code records) unchecked
#endif
    } else {
      fail("member '" + name + "' uses zip method " + std::to_string(method) + ", which checkpoints do not");
    }
    if (actual != crc)
      fail("member '" + name + "' is corrupt (CRC-32 " + std::to_string(actual) + ", recorded " + std::to_string(crc) + ")");
  }
}

}  // namespace xp
