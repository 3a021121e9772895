#include "util/tfrecord_writer.h"

#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include "util/crc32c.h"
#include "xp/base/atomic_file.h"

namespace xp {

namespace {

void put_uint(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFFu);
}

}  // namespace

std::string tfrecord_frame(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  put_uint(out, data.size(), 8);
  put_uint(out, masked_crc32c(std::string_view(out.data(), 8)), 4);
  out.append(data.data(), data.size());
  put_uint(out, masked_crc32c(data), 4);
  return out;
}

TFRecordWriter::TFRecordWriter(std::filesystem::path path) : path_(std::move(path)) {
  std::FILE* f = std::fopen(path_.c_str(), "wb");
  if (!f) throw FileError("create", path_, errno, "TensorBoard event file");
  std::fclose(f);
}

TFRecordWriter::~TFRecordWriter() {
  try {
    flush();
  } catch (...) {
    // A destructor must not throw; the run's own error (if any) is the one worth reporting.
  }
}

void TFRecordWriter::flush() {
  if (buffer_.empty()) return;
  // Checked, so a full disk is an error with the OS's reason rather than a silently shorter event
  // file. A record torn by it is the file's last; readers verify the CRCs and stop there.
  append_to_file(path_, buffer_, "TensorBoard event file");
  buffer_.clear();
}

}  // namespace xp
