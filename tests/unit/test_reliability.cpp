// Crash-consistent files and filesystem errors that name the path, the operation and the OS's
// reason (xp/base/atomic_file.h), and checkpoints that survive failed writes and say clearly when
// they cannot be read.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "engine/checkpoint.h"
#include "engine/run_files.h"
#include "util/crc32c.h"
#include "xp/base/atomic_file.h"

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("xp_reliability_" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_all(const fs::path& f) {
  std::ifstream in(f, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

size_t entries(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

// A linear model and its SGD optimizer, wired into the CheckpointParts the checkpoint functions take.
struct LinearCheckpoint {
  torch::nn::Linear model;
  torch::optim::SGD optimizer;
  xp::engine::CheckpointParts parts;
  LinearCheckpoint(int64_t in, int64_t out, double momentum = 0.0)
      : model(in, out), optimizer(model->parameters(), torch::optim::SGDOptions(0.1).momentum(momentum)) {
    parts.model = model.get();
    parts.optimizer = &optimizer;
  }
  LinearCheckpoint(const LinearCheckpoint&) = delete;
  LinearCheckpoint& operator=(const LinearCheckpoint&) = delete;
};

}  // namespace

TEST_CASE("atomic file: replaces the content, leaves no temporary, fails with path and reason") {
  TempDir tmp;
  const auto target = tmp.path / "metrics.csv";
  xp::write_file_atomically(target, "a\n");
  xp::write_file_atomically(target, "b,c\n");
  CHECK(read_all(target) == "b,c\n");
  CHECK(entries(tmp.path) == 1);

  // A folder that does not exist: the temporary cannot be created.
  CHECK_THROWS_WITH_AS(xp::write_file_atomically(tmp.path / "missing" / "x.csv", "x", "metrics file"),
                       ("cannot create metrics file '" + (tmp.path / "missing" / "x.csv").string() +
                        "': No such file or directory").c_str(),
                       xp::FileError);
  // The rename fails (a folder is in the way): the temporary is removed, the folder untouched.
  fs::create_directories(tmp.path / "in_the_way" / "keep");
  try {
    xp::write_file_atomically(tmp.path / "in_the_way", "x", "report");
    FAIL("expected a FileError");
  } catch (const xp::FileError& e) {
    CHECK(std::string(e.what()) == "cannot write report '" + (tmp.path / "in_the_way").string() + "': Is a directory");
    CHECK(e.error_number() == EISDIR);
  }
  CHECK(entries(tmp.path) == 2);  // metrics.csv and in_the_way: no temporary left
  CHECK(fs::exists(tmp.path / "in_the_way" / "keep"));
}

TEST_CASE("atomic file: a full device is an error with the OS's reason, not a short file") {
  // /dev/full accepts the open and fails every write with ENOSPC, as a full disk does.
  CHECK_THROWS_WITH_AS(xp::append_to_file("/dev/full", "a line\n", "run log"),
                       "cannot append to run log '/dev/full': No space left on device", xp::FileError);
  TempDir tmp;
  // Nested folders under an existing folder are fine; under a plain file they are an error.
  fs::create_directories(tmp.path / "folder");
  CHECK_NOTHROW(xp::create_directories_or_throw(tmp.path / "folder" / "x" / "y", "run folder"));
  std::ofstream(tmp.path / "plain") << "x";
  CHECK_THROWS_WITH_AS(xp::create_directories_or_throw(tmp.path / "plain" / "sub", "run folder"),
                       ("cannot create run folder '" + (tmp.path / "plain" / "sub").string() + "': Not a directory")
                           .c_str(),
                       xp::FileError);
}

TEST_CASE("run files: the metrics file is replaced whole; a log that cannot be written is an error") {
  TempDir tmp;
  xp::engine::RunFiles files(tmp.path / "run");
  files.write_metrics({{{"epoch", 1}, {"loss", 0.5}}});
  files.write_metrics({{{"epoch", 1}, {"loss", 0.5}}, {{"epoch", 2}, {"loss", 0.25}, {"val_top1", 0.75}}});
  auto rows = files.read_metrics();
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].at("val_top1") == 0.75);
  files.log("hello");
  CHECK(read_all(files.log_path()).find("  hello\n") != std::string::npos);
  // The log's path taken by a folder: the append fails, with the path.
  fs::remove(files.log_path());
  fs::create_directories(files.log_path());
  CHECK_THROWS_WITH_AS(files.log("lost"), doctest::Contains(("cannot open run log '" + files.log_path().string()).c_str()),
                       xp::FileError);
  CHECK_THROWS_WITH_AS(xp::engine::RunFiles(tmp.path / "run" / "metrics.csv" / "x"),
                       doctest::Contains("cannot create run folder"), xp::FileError);
}

TEST_CASE("checkpoint: a failed save keeps the previous one; a corrupt one is refused clearly") {
  TempDir tmp;
  torch::manual_seed(0);
  LinearCheckpoint net(4, 2, /*momentum=*/0.9);
  xp::engine::CheckpointParts& parts = net.parts;
  xp::engine::LoopState state;
  state.epoch = 3;
  const auto last = tmp.path / "checkpoints" / "last.pt";
  xp::engine::save_checkpoint(last, parts, state);
  const std::string good = read_all(last);
  REQUIRE(good.size() > 100);

  // A save that fails (the folder cannot be created: last.pt is a file) names the checkpoint
  // and leaves the previous one untouched.
  CHECK_THROWS_WITH_AS(xp::engine::save_checkpoint(tmp.path / "checkpoints" / "last.pt" / "nested.pt", parts, state),
                       doctest::Contains("cannot create checkpoint folder"), xp::FileError);
  CHECK(read_all(last) == good);

  torch::nn::Linear other(4, 2);
  auto loaded = xp::engine::load_checkpoint(last, parts, torch::kCPU);
  CHECK(loaded.epoch == 3);

  // Truncated (what a torn write without the rename would leave) and foreign files.
  const auto torn = tmp.path / "torn.pt";
  std::ofstream(torn, std::ios::binary) << good.substr(0, good.size() / 2);
  CHECK_THROWS_WITH_AS(xp::engine::load_model_weights(torn, *other, torch::kCPU),
                       doctest::Contains(("cannot read checkpoint '" + torn.string() + "': ").c_str()), std::runtime_error);
  CHECK_THROWS_WITH_AS(xp::engine::load_checkpoint(torn, parts, torch::kCPU),
                       doctest::Contains("(the file is truncated, corrupt or not an xp checkpoint)"),
                       std::runtime_error);
  const auto text = tmp.path / "text.pt";
  std::ofstream(text) << "not a checkpoint\n";
  try {
    xp::engine::load_model_weights(text, *other, torch::kCPU);
    FAIL("expected an error");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK(what.find("cannot read checkpoint") == 0);
    CHECK(what.find('\n') == std::string::npos);  // one line, no C++ backtrace
  }

  // Another model's checkpoint: torch would load its [2, 3] weight into the [2, 4] model as it is.
  LinearCheckpoint smaller(3, 2);
  const auto foreign = tmp.path / "smaller.pt";
  xp::engine::save_checkpoint(foreign, smaller.parts, state);
  CHECK_THROWS_WITH_AS(xp::engine::load_model_weights(foreign, *other, torch::kCPU),
                       doctest::Contains("does not fit the model: its 'weight' is [2, 3] Float, the model's is [2, 4] Float"),
                       std::runtime_error);
  // Numbers no run writes (a corrupt file that still unpickles).
  state.world_size = 0;
  const auto impossible = tmp.path / "impossible.pt";
  xp::engine::save_checkpoint(impossible, parts, state);
  CHECK_THROWS_WITH_AS(xp::engine::load_checkpoint(impossible, parts, torch::kCPU),
                       doctest::Contains("holds an impossible loop state"), std::runtime_error);
}

// LibTorch's reader does not check the zip members' CRCs: without xp's check a flipped bit in a
// weight loads as a wrong weight, silently (and one in a pickled type name crashed its parser).
TEST_CASE("checkpoint: a flipped byte in a weight is refused by the archive's CRC, not loaded") {
  CHECK(xp::crc32("123456789") == 0xCBF43926u);  // the zip (IEEE) CRC-32's check value
  TempDir tmp;
  torch::manual_seed(1);
  LinearCheckpoint net(4, 2);
  const torch::nn::Linear& model = net.model;
  xp::engine::CheckpointParts& parts = net.parts;
  const auto file = tmp.path / "last.pt";
  xp::engine::save_checkpoint(file, parts, xp::engine::LoopState{});
  std::string bytes = read_all(file);
  const torch::Tensor w = model->weight.detach().contiguous();
  const std::string weight(reinterpret_cast<const char*>(w.data_ptr<float>()), w.numel() * sizeof(float));
  const size_t at = bytes.find(weight);
  REQUIRE(at != std::string::npos);
  bytes[at + 5] = static_cast<char>(bytes[at + 5] ^ 0x10);
  const auto flipped = tmp.path / "flipped.pt";
  std::ofstream(flipped, std::ios::binary) << bytes;
  torch::nn::Linear other(4, 2);
  CHECK_THROWS_WITH_AS(xp::engine::load_model_weights(flipped, *other, torch::kCPU),
                       doctest::Contains("is corrupt (CRC-32"), std::runtime_error);
  CHECK_THROWS_WITH_AS(xp::engine::load_checkpoint_bytes(bytes, flipped, parts, torch::kCPU),
                       doctest::Contains("is corrupt (CRC-32"), std::runtime_error);
  // The unflipped file still loads.
  xp::engine::load_model_weights(file, *other, torch::kCPU);
  CHECK(torch::equal(other->weight, model->weight));
}
