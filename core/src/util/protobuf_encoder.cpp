#include "util/protobuf_encoder.h"

#include <cstring>

namespace xp {

namespace {

template <class T>
void put_little_endian(std::string& out, T bits) {
  for (size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>((bits >> (8 * i)) & 0xFFu);
}

}  // namespace

void ProtobufEncoder::raw_varint(uint64_t value) {
  while (value >= 0x80) {
    out_ += static_cast<char>((value & 0x7F) | 0x80);
    value >>= 7;
  }
  out_ += static_cast<char>(value);
}

void ProtobufEncoder::tag(uint32_t field, uint32_t wire_type) {
  raw_varint((static_cast<uint64_t>(field) << 3) | wire_type);
}

ProtobufEncoder& ProtobufEncoder::varint(uint32_t field, uint64_t value) {
  tag(field, 0);
  raw_varint(value);
  return *this;
}

ProtobufEncoder& ProtobufEncoder::float64(uint32_t field, double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  tag(field, 1);
  put_little_endian(out_, bits);
  return *this;
}

ProtobufEncoder& ProtobufEncoder::float32(uint32_t field, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  tag(field, 5);
  put_little_endian(out_, bits);
  return *this;
}

ProtobufEncoder& ProtobufEncoder::bytes(uint32_t field, std::string_view value) {
  tag(field, 2);
  raw_varint(value.size());
  out_.append(value.data(), value.size());
  return *this;
}

}  // namespace xp
