#pragma once
// TFRecord files: a sequence of records, each framed as
//   uint64 length (little-endian) | masked CRC-32C of those 8 bytes | data | masked CRC-32C of data.
// The writer keeps records in memory until flush(), so a training step that logs a scalar does not
// touch the disk; the file is opened for appending at each flush and closed again.

#include <filesystem>
#include <string>
#include <string_view>

namespace xp {

// One record, framed.
std::string tfrecord_frame(std::string_view data);

class TFRecordWriter {
 public:
  // Creates (truncates) `path`; throws std::runtime_error when it cannot.
  explicit TFRecordWriter(std::filesystem::path path);
  ~TFRecordWriter();  // flushes; errors are swallowed there (use flush() to see them)
  TFRecordWriter(const TFRecordWriter&) = delete;
  TFRecordWriter& operator=(const TFRecordWriter&) = delete;

  void write(std::string_view record) { buffer_ += tfrecord_frame(record); }
  // Appends the buffered records to the file; throws std::runtime_error when the write fails.
  void flush();
  size_t buffered_bytes() const { return buffer_.size(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::string buffer_;
};

}  // namespace xp
