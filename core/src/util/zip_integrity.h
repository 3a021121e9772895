#pragma once
// A checkpoint is a zip archive (LibTorch's format), and LibTorch reads it without checking the
// members' CRC-32s (its miniz is built with the checks off), so a flipped byte in a tensor loads as
// a wrong weight, and one in the pickled type names crashed LibTorch's TorchScript parser (SIGSEGV,
// found by fuzz_checkpoint). xp verifies the archive before LibTorch sees it.

#include <string>
#include <string_view>

namespace xp {

// Walks the zip's central directory and checks, for every stored (uncompressed) member, that its
// local header is where the directory says, its bytes lie inside the archive, and their CRC-32 is
// the recorded one. Throws std::runtime_error naming `what`, the member and the fault. Archives
// with Zip64 records (over 4 GiB) or compressed members are checked as far as the format allows
// here: their sizes are bounds-checked, their CRCs not.
void check_zip_integrity(std::string_view archive, const std::string& what);

}  // namespace xp
