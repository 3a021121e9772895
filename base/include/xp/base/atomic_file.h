#pragma once
// Crash-consistent file writes and filesystem errors that say what failed.
//
// write_file_atomically() writes a temporary file next to the target, fsyncs it, renames it over
// the target and fsyncs the folder: after kill -9, a power loss or a full disk the target holds
// either its old content or the complete new one, never a torn mix. A failure throws FileError
// naming the path, the operation and the operating system's reason, and leaves no temporary file.

#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace xp {

// A filesystem operation failed: "cannot write '/runs/a/last.pt': No space left on device".
// `what_file` names what the file is for the user ("checkpoint", "registry") and may be empty.
class FileError : public std::runtime_error {
 public:
  FileError(const std::string& operation, const std::filesystem::path& path, int error_number,
            const std::string& what_file = "");
  const std::filesystem::path& path() const { return path_; }
  int error_number() const { return errno_; }

 private:
  std::filesystem::path path_;
  int errno_;
};

// Replaces `target` with `content` atomically (see above). `what_file` is for messages.
void write_file_atomically(const std::filesystem::path& target, std::string_view content,
                           const std::string& what_file = "");

// create_directories with a FileError ("cannot create run folder '/x/y': Permission denied").
void create_directories_or_throw(const std::filesystem::path& dir, const std::string& what_file = "");

// Appends `text` to `file` (created when absent) and checks that every byte reached the kernel.
void append_to_file(const std::filesystem::path& file, std::string_view text, const std::string& what_file = "");

}  // namespace xp
