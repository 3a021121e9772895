#pragma once
// A checkpoint is a zip archive (LibTorch's format), and LibTorch reads it without checking the
// members' CRC-32s (its miniz is built with the checks off), so a flipped byte in a tensor loads as
// a wrong weight, and one in the pickled type names crashed LibTorch's TorchScript parser (SIGSEGV,
// found by fuzz_checkpoint). xp verifies the archive before LibTorch sees it.

#include <string>
#include <string_view>

namespace xp {

// Walks the zip's central directory and checks, for every member, that its local header is where
// the directory says, its bytes lie inside the archive, and their CRC-32 (of the inflated bytes
// for deflated members, LibTorch's code records) is the recorded one. Throws std::runtime_error
// naming `what`, the member and the fault. Not checked: members with Zip64 sizes (archives over
// 4 GiB), and deflated members where xp was built without zlib.
void check_zip_integrity(std::string_view archive, const std::string& what);

}  // namespace xp
