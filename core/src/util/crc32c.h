#pragma once
// CRC-32C (Castagnoli, the iSCSI polynomial), as TFRecord files checksum their records, and the
// CRC-32 of zip archives (IEEE 802.3), which checkpoint loading verifies.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace xp {

// crc32c("123456789") = 0xE3069283. `crc` continues an earlier value over more bytes.
uint32_t crc32c(std::string_view data, uint32_t crc = 0);

// crc32("123456789") = 0xCBF43926 (zlib's crc32).
uint32_t crc32(std::string_view data, uint32_t crc = 0);

// TFRecord stores the CRC rotated and offset ("masked"): a CRC over data that itself holds CRCs is
// then less likely to be degenerate.
uint32_t masked_crc32c(std::string_view data);

}  // namespace xp
