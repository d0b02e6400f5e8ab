// The authenticated code module (ACM) format: Intel SDM vol. 2D, GETSEC chapter, "Authenticated
// Code Module Format" (Table "AC Module Format"), and the Chipset ACM Information Table of the
// Intel TXT Software Development Guide (MLE DG 315168), Appendix A.1. Pure data: layouts only.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::arch::txt {

// SDM vol. 2D, AC module header. All offsets in bytes; HeaderLen, Size, KeySize and ScratchSize
// count 4-byte dwords.
struct AcmHeader {
  uint16_t module_type;        // 0x00: 2 = chipset ACM
  uint16_t module_subtype;     // 0x02: 0 = SINIT/BIOS AC, 1 = capable of execution at reset
  uint32_t header_len;         // 0x04: header length in dwords (161 for a version 0.0 header)
  uint32_t header_version;     // 0x08: 0x00000000: RSA-2048 key, PKCS #1 v1.5 signature
  uint16_t chipset_id;         // 0x0C: matched against the chipset's TXT.DIDVID device id
  uint16_t flags;              // 0x0E: bit 14 pre-production, bit 15 debug signed
  uint32_t module_vendor;      // 0x10: 0x00008086
  uint32_t date;               // 0x14: BCD yyyymmdd
  uint32_t size;               // 0x18: whole module in dwords
  uint16_t txt_svn;            // 0x1C: TXT security version number (the revocation floor compares it)
  uint16_t se_svn;             // 0x1E: SGX/SE security version number
  uint32_t code_control;       // 0x20
  uint32_t error_entry_point;  // 0x24
  uint32_t gdt_limit;          // 0x28
  uint32_t gdt_base_ptr;       // 0x2C: offset of the ACM's GDT
  uint32_t seg_sel;            // 0x30: CS selector while SINIT runs
  uint32_t entry_point;        // 0x34: offset of SINIT's entry point
  uint8_t reserved2[64];       // 0x38
  uint32_t key_size;           // 0x78: modulus size in dwords (64 = 2048 bits)
  uint32_t scratch_size;       // 0x7C: scratch area in dwords (2 * key_size + 15)
  uint8_t rsa_pub_key[256];    // 0x80: modulus, little-endian (SDM: "RSA public key")
  uint32_t rsa_pub_exp;        // 0x180: public exponent
  uint8_t rsa_sig[256];        // 0x184: PKCS #1 v1.5 signature, little-endian
};
static_assert(sizeof(AcmHeader) == 0x284, "ACM header v0.0 is 644 bytes (161 dwords)");
static_assert(offsetof(AcmHeader, size) == 0x18 && offsetof(AcmHeader, txt_svn) == 0x1C);
static_assert(offsetof(AcmHeader, entry_point) == 0x34 && offsetof(AcmHeader, key_size) == 0x78);
static_assert(offsetof(AcmHeader, rsa_pub_key) == 0x80 && offsetof(AcmHeader, rsa_pub_exp) == 0x180);
static_assert(offsetof(AcmHeader, rsa_sig) == 0x184);

inline constexpr uint16_t kAcmModuleTypeChipset = 2;
inline constexpr uint32_t kAcmVendorIntel = 0x00008086;
inline constexpr uint32_t kAcmHeaderVersion0 = 0x00000000;
inline constexpr uint32_t kAcmKeySizeDwords = 64;                          // RSA-2048
inline constexpr uint32_t kAcmScratchDwords = 2 * kAcmKeySizeDwords + 15;  // SDM: 143 dwords
inline constexpr uint32_t kAcmHeaderDwords = sizeof(AcmHeader) / 4;       // 161
// The user area (code, data, the information table) starts after the header and the scratch area.
inline constexpr uint32_t kAcmUserAreaOffset = (kAcmHeaderDwords + kAcmScratchDwords) * 4;  // 0x4C0
static_assert(kAcmUserAreaOffset == 0x4C0);
inline constexpr uint16_t kAcmFlagPreProduction = 1u << 14;
inline constexpr uint16_t kAcmFlagDebugSigned = 1u << 15;

// The signature covers the header without the key, exponent, signature and scratch area, followed
// by the user area (SDM vol. 2D: those fields are "not included in the hash"): bytes [0, 0x80) and
// [kAcmUserAreaOffset, size * 4).
inline constexpr uint32_t kAcmSignedHeaderBytes = offsetof(AcmHeader, rsa_pub_key);

// MLE DG Appendix A.1, Table "Chipset AC Module Information Table" (version 5 layout; the list
// pointers are offsets from the start of the ACM).
struct AcmInfoTable {
  uint8_t uuid[16];            // 0x00: 7FC03AAA-46A7-18DB-2E AC 69 8F 8D 41 7F 5A (little-endian dwords)
  uint8_t chipset_acm_type;    // 0x10: 0 = BIOS ACM, 1 = SINIT
  uint8_t version;             // 0x11: 5
  uint16_t length;             // 0x12: bytes of this table
  uint32_t chipset_id_list;    // 0x14: offset of the chipset id list (0 = none in the simulation)
  uint32_t os_sinit_data_ver;  // 0x18: highest OsSinitData version SINIT understands
  uint32_t min_mle_header_ver; // 0x1C: lowest MLE header version SINIT accepts
  uint32_t capabilities;       // 0x20: the MLE header capability bits SINIT supports
  uint8_t acm_version;         // 0x24: SINIT's own version (TXT.ACM_VERSION in SinitMleData)
  uint8_t acm_revision[3];     // 0x25
  uint32_t processor_id_list;  // 0x28
  uint32_t tpm_info_list;      // 0x2C
};
static_assert(sizeof(AcmInfoTable) == 0x30 && offsetof(AcmInfoTable, acm_version) == 0x24);

// UUID bytes as stored (four little-endian dwords 0x7FC03AAA, 0x18DB46A7, 0x8F69AC2E, 0x5A7F418D).
inline constexpr uint8_t kAcmInfoTableUuid[16] = {0xAA, 0x3A, 0xC0, 0x7F, 0xA7, 0x46, 0xDB, 0x18,
                                                  0x2E, 0xAC, 0x69, 0x8F, 0x8D, 0x41, 0x7F, 0x5A};
inline constexpr uint8_t kAcmTypeBios = 0;
inline constexpr uint8_t kAcmTypeSinit = 1;
inline constexpr uint8_t kAcmInfoTableVersion = 5;

}  // namespace redoubt::arch::txt
