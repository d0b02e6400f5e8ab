// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0 §3.2.2.3.2;
// AMD BKDG for family 0Fh/10h "Configuration Space Accesses"): CONFIG_ADDRESS at
// 0xCF8, CONFIG_DATA at 0xCFC..0xCFF, and the type-0 header fields a driver
// needs to walk a capability list (PCI 3.0 §6.1, §6.7). Pure data.
#pragma once
#include <cstdint>

namespace redoubt::arch::pci {

inline constexpr uint16_t kConfigAddress = 0xCF8;
inline constexpr uint16_t kConfigData = 0xCFC;
inline constexpr uint32_t kEnable = 1u << 31;

// CONFIG_ADDRESS: enable[31], bus[23:16], device[15:11], function[10:8], dword register[7:2].
constexpr uint32_t config_address(uint8_t bus, uint8_t device, uint8_t function, uint8_t reg) {
  return kEnable | (uint32_t{bus} << 16) | (uint32_t{device & 0x1Fu} << 11) | (uint32_t{function & 0x7u} << 8) |
         (reg & 0xFCu);
}
static_assert(config_address(0, 0x18, 3, 0xF4) == 0x8000C3F4u);

// Type-0 header (PCI 3.0 §6.1).
inline constexpr uint8_t kVendorId = 0x00;   // 16 bits; 0xFFFF = no function
inline constexpr uint8_t kDeviceId = 0x02;
inline constexpr uint8_t kCommand = 0x04;
inline constexpr uint8_t kStatus = 0x06;     // bit 4: capabilities list present
inline constexpr uint8_t kClassRev = 0x08;
inline constexpr uint8_t kHeaderType = 0x0E; // bit 7: multi-function device
inline constexpr uint8_t kCapPtr = 0x34;     // first capability (dword aligned)
inline constexpr uint16_t kStatusCapList = 1u << 4;

// A capability: id[7:0], next[15:8] (PCI 3.0 §6.7).
inline constexpr uint32_t kMaxCapabilities = 48;  // (256 - 64) / 4: a loop bound against cycles

inline constexpr uint16_t kVendorAmd = 0x1022;

}  // namespace redoubt::arch::pci
