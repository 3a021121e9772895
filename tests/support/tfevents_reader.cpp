#include "tfevents_reader.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "util/crc32c.h"

namespace xp::testing {

namespace {

[[noreturn]] void fail(const std::string& what, size_t at) {
  throw std::runtime_error(what + " at byte " + std::to_string(at));
}

// At most ten bytes; the tenth may only hold the top bit of a 64-bit value.
uint64_t read_varint(const std::string& s, size_t& pos) {
  const size_t start = pos;
  uint64_t v = 0;
  for (int shift = 0; pos < s.size(); shift += 7) {
    const auto b = static_cast<unsigned char>(s[pos++]);
    if (shift == 63 && (b & 0x7E)) fail("varint longer than 64 bits", start);
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
    if (shift == 63) fail("varint longer than ten bytes", start);
  }
  fail("truncated varint", start);
}

uint64_t le(const std::string& s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(s[pos + i])) << (8 * i);
  return v;
}

}  // namespace

std::vector<Field> decode_fields(const std::string& s) {
  std::vector<Field> out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t start = pos;
    const uint64_t key = read_varint(s, pos);
    Field f;
    if ((key >> 3) == 0 || (key >> 3) > 0x1FFFFFFF) fail("field number " + std::to_string(key >> 3), start);
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire_type = static_cast<uint32_t>(key & 7);
    if (f.wire_type == 0) {
      f.varint = read_varint(s, pos);
    } else if (f.wire_type == 1 || f.wire_type == 2 || f.wire_type == 5) {
      const uint64_t n = f.wire_type == 1 ? 8 : f.wire_type == 5 ? 4 : read_varint(s, pos);
      if (n > s.size() - pos) fail("field " + std::to_string(f.number) + " runs past the message", start);
      f.bytes = s.substr(pos, static_cast<size_t>(n));
      pos += static_cast<size_t>(n);
    } else {
      fail("wire type " + std::to_string(f.wire_type), start);
    }
    out.push_back(std::move(f));
  }
  return out;
}

const Field& field(const std::vector<Field>& fields, uint32_t number) {
  for (const auto& f : fields)
    if (f.number == number) return f;
  throw std::runtime_error("no field " + std::to_string(number));
}

double as_double(const Field& f) {
  if (f.wire_type != 1 || f.bytes.size() != 8) throw std::runtime_error("field " + std::to_string(f.number) + " is not a double");
  double d;
  std::memcpy(&d, f.bytes.data(), 8);
  return d;
}

float as_float(const Field& f) {
  if (f.wire_type != 5 || f.bytes.size() != 4) throw std::runtime_error("field " + std::to_string(f.number) + " is not a float");
  float v;
  std::memcpy(&v, f.bytes.data(), 4);
  return v;
}

std::vector<std::string> read_records(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    if (s.size() - pos < 12) fail("truncated record header", pos);
    const uint64_t n = le(s, pos, 8);
    if (le(s, pos + 8, 4) != xp::masked_crc32c(std::string_view(s).substr(pos, 8))) fail("wrong length CRC", pos);
    if (n > s.size() - pos - 12 || s.size() - pos - 12 - n < 4) fail("truncated record", pos);
    std::string data = s.substr(pos + 12, static_cast<size_t>(n));
    if (le(s, pos + 12 + n, 4) != xp::masked_crc32c(data)) fail("wrong data CRC", pos);
    out.push_back(std::move(data));
    pos += 12 + static_cast<size_t>(n) + 4;
  }
  return out;
}

std::vector<std::string> read_records(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + file.string());
  return read_records(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
}

}  // namespace xp::testing
