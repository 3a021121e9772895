#include "xp/base/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace xp {

namespace fs = std::filesystem;

namespace {

std::string message(const std::string& operation, const fs::path& path, int error_number,
                    const std::string& what_file) {
  return "cannot " + operation + " " + (what_file.empty() ? "" : what_file + " ") + "'" + path.string() +
         "': " + std::strerror(error_number);
}

// Every byte of `data`, retrying short writes and EINTR. Returns 0 or the errno.
int write_all(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

// A name no other writer (thread or process) of the same target uses at the same time; hidden so
// that listings and globs of the folder do not pick up a half-written file.
fs::path temporary_for(const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  return target.parent_path() / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                                 std::to_string(counter++));
}

void sync_folder(const fs::path& dir) {
  // Makes the rename itself durable. Some filesystems refuse fsync on a folder; the rename has
  // happened either way, so that is not an error worth failing a run for.
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

FileError::FileError(const std::string& operation, const fs::path& path, int error_number,
                     const std::string& what_file)
    : std::runtime_error(message(operation, path, error_number, what_file)), path_(path), errno_(error_number) {}

void write_file_atomically(const fs::path& target, std::string_view content, const std::string& what_file) {
  const fs::path tmp = temporary_for(target);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw FileError("create", target, errno, what_file);
  int err = write_all(fd, content);
  // fsync before rename: otherwise a crash soon after can leave the new name on an empty file.
  if (!err && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (!err && ::rename(tmp.c_str(), target.c_str()) != 0) err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    throw FileError("write", target, err, what_file);
  }
  sync_folder(target.parent_path());
}

void create_directories_or_throw(const fs::path& dir, const std::string& what_file) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw FileError("create", dir, ec.value(), what_file.empty() ? "folder" : what_file);
}

void append_to_file(const fs::path& file, std::string_view text, const std::string& what_file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw FileError("open", file, errno, what_file);
  int err = write_all(fd, text);
  if (::close(fd) != 0 && !err) err = errno;
  if (err) throw FileError("append to", file, err, what_file);
}

}  // namespace xp
