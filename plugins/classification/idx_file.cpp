#include "idx_file.h"

#include <algorithm>

#include <zlib.h>

#include "xp/errors.h"

namespace xp::classification {

namespace {

class GzFile {
 public:
  GzFile(const std::string& path, const std::string& who)
      : path_(path), who_(who), file_(gzopen(path.c_str(), "rb")) {
    if (!file_) throw xp::ConfigError(who_ + ": cannot open " + path);
  }
  ~GzFile() { gzclose(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  void read(void* into, size_t bytes) {
    auto* out = static_cast<char*>(into);
    while (bytes > 0) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes, 1u << 30));
      int got = gzread(file_, out, chunk);
      if (got <= 0) throw truncated();
      out += got;
      bytes -= static_cast<size_t>(got);
    }
  }
  // `bytes` more bytes appended to `to`, in steps of at most 16 MB: a header that declares more
  // than the file holds ends in a ConfigError after at most one step too many, not in a huge
  // allocation (or std::bad_alloc).
  void read_append(std::vector<uint8_t>& to, uint64_t bytes) {
    constexpr uint64_t kStep = uint64_t{1} << 24;
    while (bytes > 0) {
      const size_t step = static_cast<size_t>(std::min(bytes, kStep));
      const size_t at = to.size();
      to.resize(at + step);
      read(to.data() + at, step);
      bytes -= step;
    }
  }
  uint32_t read_u32() {  // IDX integers are big-endian
    unsigned char b[4];
    read(b, 4);
    return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
  }
  xp::ConfigError truncated() const {
    return xp::ConfigError(who_ + ": " + path_ + " is truncated or not a valid IDX file");
  }

 private:
  std::string path_, who_;
  gzFile file_;
};

}  // namespace

IdxData read_idx_pair(const std::string& images_path, const std::string& labels_path, int num_classes,
                      const std::string& who) {
  IdxData data;
  GzFile images(images_path, who);
  if (images.read_u32() != 0x803) throw xp::ConfigError(who + ": " + images_path + " is not an IDX image file");
  data.count = images.read_u32();
  data.rows = images.read_u32();
  data.cols = images.read_u32();
  if (data.count == 0) throw xp::ConfigError(who + ": " + images_path + " holds no images");
  if (data.rows <= 0 || data.cols <= 0 || data.rows > 4096 || data.cols > 4096)
    throw xp::ConfigError(who + ": " + images_path + " declares an implausible image size (" +
                          std::to_string(data.rows) + " x " + std::to_string(data.cols) + ")");
  // At most 2^32 * 2^24 bytes: no overflow in 64 bits.
  images.read_append(data.pixels, static_cast<uint64_t>(data.count * data.rows * data.cols));

  GzFile labels(labels_path, who);
  if (labels.read_u32() != 0x801) throw xp::ConfigError(who + ": " + labels_path + " is not an IDX label file");
  if (static_cast<int64_t>(labels.read_u32()) != data.count)
    throw xp::ConfigError(who + ": " + labels_path + " and " + images_path + " disagree on the sample count");
  labels.read_append(data.labels, static_cast<uint64_t>(data.count));
  for (uint8_t l : data.labels)
    if (l >= num_classes)
      throw xp::ConfigError(who + ": " + labels_path + " has label " + std::to_string(l) + " (there are " +
                            std::to_string(num_classes) + " classes)");
  return data;
}

}  // namespace xp::classification
