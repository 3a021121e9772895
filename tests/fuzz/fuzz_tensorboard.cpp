// Fuzz target: the TensorBoard event-file reader of the tests (tests/support/tfevents_reader): the
// TFRecord framing with its CRCs, and the protobuf wire format of every record, nested messages
// included. Malformed bytes are a std::runtime_error; records read back frame to the same bytes.
//
// The seeds (tests/fuzz/tensorboard/) come from xp's writer: XP_FUZZ_WRITE_SEEDS=<folder>
// fuzz_replay_tensorboard <any file> writes them (an events file, and broken copies of it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "engine/tensorboard_events.h"
#include "../support/tfevents_reader.h"
#include "util/tfrecord_writer.h"

namespace {

namespace fs = std::filesystem;
namespace tb = xp::engine::tensorboard;

void write_seeds(const fs::path& out) {
  fs::create_directories(out);
  std::string events = xp::tfrecord_frame(tb::file_version_event(1700000000.5));
  events += xp::tfrecord_frame(tb::scalar_event(12.0, 40, "epoch/val_top1", 0.8125f));
  events += xp::tfrecord_frame(tb::image_event(13.0, 40, "train_inputs/0", {2, 2, 1, "PNG"}));
  events += xp::tfrecord_frame(tb::session_start_event(5.0, {{"lr", "0.001"}, {"name", "adamw"}, {"ema", "false"}}));
  events += xp::tfrecord_frame(tb::session_end_event(9.0, 24, tb::SessionStatus::Success));
  std::ofstream(out / "events.tfevents", std::ios::binary) << events;
  std::ofstream(out / "truncated.tfevents", std::ios::binary) << events.substr(0, events.size() - 7);
  std::string bad_crc = events;
  bad_crc[20] ^= 1;
  std::ofstream(out / "bad_crc.tfevents", std::ios::binary) << bad_crc;
  std::ofstream(out / "empty_record.tfevents", std::ios::binary) << xp::tfrecord_frame("");
}

// Every length-delimited field may itself be a message: decoded where it is one.
void decode_nested(const std::string& message, int depth) {
  std::vector<xp::testing::Field> fields;
  try {
    fields = xp::testing::decode_fields(message);
  } catch (const std::runtime_error&) {
    return;
  }
  for (const auto& f : fields) {
    if (f.wire_type == 1) (void)xp::testing::as_double(f);
    if (f.wire_type == 5) (void)xp::testing::as_float(f);
    if (f.wire_type == 2 && depth < 6) decode_nested(f.bytes, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool seeds_written = [] {
    if (const char* seeds = std::getenv("XP_FUZZ_WRITE_SEEDS")) write_seeds(seeds);
    return true;
  }();
  (void)seeds_written;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto records = xp::testing::read_records(bytes);
    std::string framed;
    for (const auto& r : records) framed += xp::tfrecord_frame(r);
    if (framed != bytes) __builtin_trap();
    for (const auto& r : records) decode_nested(r, 0);
  } catch (const std::runtime_error&) {
  }
  // The bytes as one message too (the fuzzer reaches the wire format without framing them).
  decode_nested(bytes, 0);
  return 0;
}
