#include "util/crc32c.h"

#include <array>

namespace xp {

namespace {

// Reflected forms of the Castagnoli polynomial 0x1EDC6F41 and of IEEE 802.3's 0x04C11DB7.
constexpr uint32_t kCastagnoli = 0x82F63B78u;
constexpr uint32_t kIeee = 0xEDB88320u;

std::array<uint32_t, 256> make_table(uint32_t polynomial) {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ polynomial : c >> 1;
    table[i] = c;
  }
  return table;
}

uint32_t reflected_crc(const std::array<uint32_t, 256>& table, std::string_view data, uint32_t crc) {
  crc = ~crc;
  for (unsigned char byte : data) crc = table[(crc ^ byte) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

}  // namespace

uint32_t crc32c(std::string_view data, uint32_t crc) {
  static const std::array<uint32_t, 256> table = make_table(kCastagnoli);
  return reflected_crc(table, data, crc);
}

uint32_t crc32(std::string_view data, uint32_t crc) {
  static const std::array<uint32_t, 256> table = make_table(kIeee);
  return reflected_crc(table, data, crc);
}

uint32_t masked_crc32c(std::string_view data) {
  const uint32_t crc = crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

}  // namespace xp
