#pragma once
// A reader of TensorBoard event files for the tests, written apart from the writer it checks
// (core/src/util/tfrecord_writer, protobuf_encoder): TFRecord framing with both CRCs checked, and the
// protobuf wire format as field number -> raw value. Malformed input (a truncated record, a wrong
// CRC, a bad varint, a field running past its message) is a std::runtime_error saying where; the
// fuzz target tests/fuzz/fuzz_tensorboard.cpp holds it to that.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xp::testing {

struct Field {
  uint32_t number = 0, wire_type = 0;
  uint64_t varint = 0;  // wire type 0
  std::string bytes;    // wire types 1, 2 and 5: the raw payload
};

// The fields of one protobuf message, in order.
std::vector<Field> decode_fields(const std::string& message);
// The first field `number`; std::runtime_error when there is none.
const Field& field(const std::vector<Field>& fields, uint32_t number);
double as_double(const Field& f);  // wire type 1
float as_float(const Field& f);    // wire type 5

// The records of a TFRecord file's bytes / of a file, every length and data CRC checked.
std::vector<std::string> read_records(const std::string& file_bytes);
std::vector<std::string> read_records(const std::filesystem::path& file);

}  // namespace xp::testing
