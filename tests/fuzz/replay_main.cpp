// A main() for the fuzz targets in ordinary builds: runs LLVMFuzzerTestOneInput on every file
// given (or every file of the folders given), so ctest replays the seed corpora and every input
// that once crashed a target (tests/fuzz/<target>/), with the sanitizers when XP_SANITIZE is on.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  size_t inputs = 0;
  auto replay = [&inputs](const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ++inputs;
  };
  for (int i = 1; i < argc; ++i) {
    if (fs::is_directory(argv[i])) {
      for (const auto& e : fs::recursive_directory_iterator(argv[i]))
        if (e.is_regular_file()) replay(e.path());
    } else {
      replay(argv[i]);
    }
  }
  std::printf("replayed %zu inputs\n", inputs);
  return inputs ? 0 : 1;  // an empty corpus is a broken test, not a pass
}
