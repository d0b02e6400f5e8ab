#include "platform/sim/devices/amd_dev.hpp"

#include "arch/x86/pci.hpp"

namespace redoubt::sim {

namespace d = arch::amd_dev;
namespace pci = arch::pci;

uint32_t AmdDevBridge::config_read(uint8_t reg) {
  switch (reg) {
    case pci::kVendorId: return (uint32_t{d::kDeviceIdFamily10h} << 16) | pci::kVendorAmd;
    case pci::kCommand: return (uint32_t{pci::kStatusCapList} << 16) | command_;
    case pci::kClassRev: return 0x06000000u;  // class 06h (bridge), subclass 00h (host bridge), revision 0
    case 0x0C: return 0x00800000u;            // header type 0, multi-function (F0..F4 on real parts)
    case pci::kCapPtr: return d::kCapOffset;
    case d::kCapOffset + d::kCapHeader: return d::kCapId | (0u << 8) | (uint32_t{d::kCapTypeDev} << 16);
    case d::kCapOffset + d::kDevOp: return op_;
    case d::kCapOffset + d::kDevData: return dev_read((op_ >> d::kOpFunctionShift) & 0xFF, op_ & 0xFF);
    default: return 0;
  }
}

void AmdDevBridge::config_write(uint8_t reg, uint32_t value, uint32_t byte_mask) {
  uint32_t mask = 0;
  for (int i = 0; i < 4; ++i)
    if (byte_mask & (1u << i)) mask |= 0xFFu << (8 * i);
  switch (reg) {
    case pci::kCommand: command_ = static_cast<uint16_t>((command_ & ~mask) | (value & mask & 0x0006)); return;  // memory/bus-master enables
    case d::kCapOffset + d::kDevOp: op_ = (op_ & ~mask) | (value & mask & 0xFFFF); return;
    case d::kCapOffset + d::kDevData: {
      const uint32_t fn = (op_ >> d::kOpFunctionShift) & 0xFF, index = op_ & 0xFF;
      dev_write(fn, index, (dev_read(fn, index) & ~mask) | (value & mask));
      return;
    }
    default: return;  // read-only here
  }
}

uint32_t AmdDevBridge::dev_read(uint32_t function, uint32_t index) {
  switch (function) {
    case d::kDevBaseLo: return index < kDomains ? base_lo_[index] : 0;
    case d::kDevBaseHi: return index < kDomains ? base_hi_[index] : 0;
    case d::kDevMap: return index < kMaps ? map_[index] : 0;
    case d::kDevCap: return kRevision | (kDomains << d::cap::kDomainsShift) | (kMaps << d::cap::kMapsShift);
    case d::kDevCr: return (cr_ & ~(d::cr::kInvalidate | d::cr::kSlDevEn)) | (dev_.protected_pages() ? d::cr::kSlDevEn : 0);
    default: return 0;  // error status/address: not modelled
  }
}

void AmdDevBridge::dev_write(uint32_t function, uint32_t index, uint32_t value) {
  switch (function) {
    case d::kDevBaseLo:
      if (index < kDomains)
        base_lo_[index] = value & (d::base_lo::kAddrMask | d::base_lo::kSizeMask | d::base_lo::kProtect | d::base_lo::kValid);
      break;
    case d::kDevBaseHi:
      if (index < kDomains) base_hi_[index] = value & 0x000FFFFFu;  // 52-bit physical addresses
      break;
    case d::kDevMap:
      if (index < kMaps) map_[index] = value;
      break;
    case d::kDevCr:
      // INV is self-clearing and there is no cache; SL_DEV_EN is SKINIT's (see the header).
      cr_ = value & (d::cr::kDevEn | d::cr::kMemClr | d::cr::kIospEn | d::cr::kMceEn | d::cr::kWalkProbe);
      break;
    default: return;
  }
  apply();
}

void AmdDevBridge::apply() {
  const uint32_t lo = base_lo_[0];
  if (!dev_enabled() || !(lo & d::base_lo::kValid)) {
    dev_.detach_table();
    return;
  }
  const uint64_t base = (uint64_t{base_hi_[0]} << 32) | (lo & d::base_lo::kAddrMask);
  const uint32_t size = (lo & d::base_lo::kSizeMask) >> d::base_lo::kSizeShift;
  dev_.attach_table(mem_, base, d::coverage(size), lo & d::base_lo::kProtect);
}

}  // namespace redoubt::sim
