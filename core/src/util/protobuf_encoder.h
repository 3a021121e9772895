#pragma once
// Builds a protocol buffer message in the binary wire format, field by field, without generated
// code: TensorBoard's event files are the only protobufs xp writes, and they need a handful of
// field kinds. Fields are written in the order they are added; proto3 readers accept any order.

#include <cstdint>
#include <string>
#include <string_view>

namespace xp {

class ProtobufEncoder {
 public:
  // Wire type 0: int32, int64, uint64, bool and enum fields. Negative values take ten bytes, as
  // protobuf encodes them (sign-extended to 64 bits).
  ProtobufEncoder& varint(uint32_t field, uint64_t value);
  ProtobufEncoder& int64(uint32_t field, int64_t value) { return varint(field, static_cast<uint64_t>(value)); }
  // Wire type 1: double (and fixed64), little-endian.
  ProtobufEncoder& float64(uint32_t field, double value);
  // Wire type 5: float (and fixed32), little-endian.
  ProtobufEncoder& float32(uint32_t field, float value);
  // Wire type 2: string, bytes and embedded messages.
  ProtobufEncoder& bytes(uint32_t field, std::string_view value);
  ProtobufEncoder& message(uint32_t field, const ProtobufEncoder& value) { return bytes(field, value.data()); }

  const std::string& data() const { return out_; }

 private:
  void tag(uint32_t field, uint32_t wire_type);
  void raw_varint(uint64_t value);
  std::string out_;
};

}  // namespace xp
