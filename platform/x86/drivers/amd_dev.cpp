#include "platform/x86/drivers/amd_dev.hpp"

#include "arch/amd/dev.hpp"

namespace redoubt::x86 {

namespace d = arch::amd_dev;
namespace pci = arch::pci;

namespace {
constexpr PciAddress kBridge{d::kBus, d::kDevice, d::kFunction};

// The pages touching [pa, pa + n) as [first, last]; false if the range wraps.
bool page_span(uint64_t pa, uint64_t n, uint64_t& first, uint64_t& last) {
  if (n == 0 || pa + (n - 1) < pa) return false;
  first = pa / d::kPageSize;
  last = (pa + (n - 1)) / d::kPageSize;
  return true;
}
}  // namespace

uint32_t AmdDev::read(uint32_t function, uint32_t index) {
  // APM §15.24: select the register through DEV_OP, then access DEV_DATA.
  pci_write32(io_, kBridge, static_cast<uint8_t>(cap_ + d::kDevOp), (function << d::kOpFunctionShift) | index);
  return pci_read32(io_, kBridge, static_cast<uint8_t>(cap_ + d::kDevData));
}

void AmdDev::write(uint32_t function, uint32_t index, uint32_t value) {
  pci_write32(io_, kBridge, static_cast<uint8_t>(cap_ + d::kDevOp), (function << d::kOpFunctionShift) | index);
  pci_write32(io_, kBridge, static_cast<uint8_t>(cap_ + d::kDevData), value);
}

Status AmdDev::find() {
  const uint32_t id = pci_read32(io_, kBridge, pci::kVendorId);
  if ((id & 0xFFFF) != pci::kVendorAmd)
    return Status::fail(Err::unsupported, "DEV: 00:18.3 is not an AMD host bridge function (vendor/device 0x%08x)", id);
  if (!((pci_read32(io_, kBridge, pci::kCommand) >> 16) & pci::kStatusCapList))
    return Status::fail(Err::unsupported, "DEV: 00:18.3 has no capability list");
  uint8_t ptr = static_cast<uint8_t>(pci_read32(io_, kBridge, pci::kCapPtr) & 0xFC);
  for (uint32_t i = 0; ptr != 0 && i < pci::kMaxCapabilities; ++i) {  // PCI 3.0 §6.7; bounded against a cycle
    if (ptr < 0x40) return Status::fail(Err::malformed, "DEV: capability pointer 0x%x points into the header", unsigned(ptr));
    const uint32_t hdr = pci_read32(io_, kBridge, ptr);
    if ((hdr & 0xFF) == d::kCapId && ((hdr >> 16) & 7) == d::kCapTypeDev) {
      cap_ = ptr;
      const uint32_t cap = read(d::kDevCap, 0);
      domains_ = (cap >> d::cap::kDomainsShift) & 0xFF;
      maps_ = (cap >> d::cap::kMapsShift) & 0xFF;
      if (domains_ == 0) return Status::fail(Err::unsupported, "DEV: DEV_CAP 0x%08x reports no protection domain", cap);
      return Status::ok();
    }
    ptr = static_cast<uint8_t>((hdr >> 8) & 0xFC);
  }
  return Status::fail(Err::not_found, "DEV: no DEV capability (ID 0Fh, type 0) at 00:18.3");
}

bool AmdDev::page_bit(uint64_t page) const { return (table_[page / 8] >> (page % 8)) & 1; }

void AmdDev::set_pages(uint64_t pa, uint64_t n) {
  uint64_t first, last;
  if (!page_span(pa, n, first, last)) return;
  const uint64_t pages = covered_ / d::kPageSize;
  for (uint64_t p = first; p <= last && p < pages; ++p) table_[p / 8] |= uint8_t(1u << (p % 8));
}

uint8_t AmdDev::expected_byte(uint64_t i, const PhysRange* initial, size_t n_initial) const {
  uint8_t v = 0;
  auto add = [&](uint64_t pa, uint64_t n) {
    uint64_t first, last;
    if (!page_span(pa, n, first, last)) return;
    for (uint64_t p = i * 8; p < i * 8 + 8; ++p)
      if (p >= first && p <= last) v |= uint8_t(1u << (p % 8));
  };
  add(table_pa_, table_bytes_);
  for (size_t k = 0; k < n_initial; ++k) add(initial[k].pa, initial[k].size);
  return v;
}

Status AmdDev::attach() {
  if (cap_ == 0) REDOUBT_TRY(find());
  if (!(read(d::kDevCr, 0) & d::cr::kDevEn)) return Status::fail(Err::fault, "DEV: not enabled (DEV_CR.DEV_EN = 0)");
  const uint32_t lo = read(d::kDevBaseLo, 0), hi = read(d::kDevBaseHi, 0);
  if (!(lo & d::base_lo::kValid)) return Status::fail(Err::fault, "DEV: domain 0 has no valid table (DEV_BASE_LO 0x%08x)", lo);
  const uint32_t size = (lo >> d::base_lo::kSizeShift) & 7;
  table_pa_ = (uint64_t(hi) << 32) | (lo & d::base_lo::kAddrMask);
  table_bytes_ = d::table_bytes(size);
  covered_ = d::coverage(size);
  table_ = mem_.map(table_pa_, table_bytes_);
  if (!table_) return Status::fail(Err::fault, "DEV table [0x%llx, +0x%llx) is outside RAM", (unsigned long long)table_pa_, (unsigned long long)table_bytes_);
  enabled_ = true;
  return Status::ok();
}

Status AmdDev::enable(uint64_t table_pa, uint64_t table_size, const PhysRange* initial, size_t n_initial) {
  if (cap_ == 0) REDOUBT_TRY(find());
  if (table_pa % d::kPageSize) return Status::fail(Err::malformed, "DEV table at 0x%llx is not 4 KiB aligned", (unsigned long long)table_pa);
  if (table_size < d::kMinTableBytes)
    return Status::fail(Err::malformed, "DEV table of %llu bytes is below the 128 KiB that covers 4 GiB", (unsigned long long)table_size);
  // The smallest table (128 KiB, 4 GiB covered): DEV_BASE_LO.P blocks every page above it
  // (APM vol. 2 §15.24.5), which no launch needs to open, and the SL's write + re-read
  // pass stays 128 KiB whatever region the loader gives (2.25 MiB, shared with AMD-Vi).
  const uint32_t size = 0;
  table_bytes_ = d::table_bytes(size);
  covered_ = d::coverage(size);
  if (table_pa + table_bytes_ > covered_)
    return Status::fail(Err::malformed, "DEV table at 0x%llx lies above the %llu GiB it covers: it could not protect itself",
                        (unsigned long long)table_pa, (unsigned long long)(covered_ >> 30));
  table_ = mem_.map(table_pa, table_bytes_);
  if (!table_) return Status::fail(Err::fault, "DEV table [0x%llx, +0x%llx) is outside RAM", (unsigned long long)table_pa, (unsigned long long)table_bytes_);
  table_pa_ = table_pa;

  // 1. The table: nothing but its own pages and the caller's ranges.
  for (uint64_t i = 0; i < table_bytes_; ++i) table_[i] = 0;
  set_pages(table_pa, table_bytes_);
  for (size_t k = 0; k < n_initial; ++k) set_pages(initial[k].pa, initial[k].size);

  // 2. Domain 0 at the table, memory above its reach blocked (P); no device mapped to
  //    another domain; the other domains invalid. The OUT instructions of the config
  //    accesses drain the table stores first (I/O writes are ordered after stores).
  write(d::kDevBaseHi, 0, static_cast<uint32_t>(table_pa >> 32));
  write(d::kDevBaseLo, 0, static_cast<uint32_t>(table_pa & d::base_lo::kAddrMask) | (size << d::base_lo::kSizeShift) |
                              d::base_lo::kProtect | d::base_lo::kValid);
  for (uint32_t i = 1; i < domains_; ++i) write(d::kDevBaseLo, i, 0);
  for (uint32_t i = 0; i < maps_; ++i) write(d::kDevMap, i, 0);
  const uint32_t cr = read(d::kDevCr, 0) & d::cr::kSlDevEn;  // keep SKINIT's SLB protection
  write(d::kDevCr, 0, cr | d::cr::kDevEn | d::cr::kInvalidate);
  if (!(read(d::kDevCr, 0) & d::cr::kDevEn)) return Status::fail(Err::fault, "DEV: DEV_EN did not stick in DEV_CR");
  const uint32_t lo = read(d::kDevBaseLo, 0);
  if ((lo & d::base_lo::kAddrMask) != (table_pa & d::base_lo::kAddrMask) || !(lo & d::base_lo::kValid))
    return Status::fail(Err::fault, "DEV: DEV_BASE_LO reads 0x%08x after programming", lo);
  enabled_ = true;

  // 3. The table now protects itself: re-read it. A device that wrote it between
  //    step 1 and the enable left a difference behind.
  //    Fast path (the SL runs this interpreted: docs/skinit.md): a word of the table
  //    whose 64 pages touch none of the ranges must read 0; only the words near a
  //    range are checked bit by bit.
  auto near_a_range = [&](uint64_t p0, uint64_t p1) {
    uint64_t first, last;
    if (page_span(table_pa_, table_bytes_, first, last) && first <= p1 && last >= p0) return true;
    for (size_t k = 0; k < n_initial; ++k)
      if (page_span(initial[k].pa, initial[k].size, first, last) && first <= p1 && last >= p0) return true;
    return false;
  };
  for (uint64_t i = 0; i < table_bytes_; ++i) {
    if (i % 8 == 0 && i + 8 <= table_bytes_ && !near_a_range(i * 8, i * 8 + 63)) {
      uint64_t w = 0;
      for (int b = 0; b < 8; ++b) w |= table_[i + b];
      if (w == 0) {
        i += 7;
        continue;
      }
    }
    const uint8_t want = expected_byte(i, initial, n_initial);
    if (table_[i] != want)
      return Status::fail(Err::fault, "DEV table byte %llu (pages from 0x%llx) reads 0x%x, wrote 0x%x: it was changed by DMA before the enable",
                          (unsigned long long)i, (unsigned long long)(i * 8 * d::kPageSize), unsigned(table_[i]), unsigned(want));
  }
  return Status::ok();
}

Status AmdDev::protect(uint64_t pa, uint64_t n) {
  if (!enabled_) return Status::fail(Err::internal, "DEV protect before the DEV table is enabled");
  uint64_t first, last;
  if (n == 0) return Status::ok();
  if (!page_span(pa, n, first, last)) return Status::fail(Err::malformed, "DEV protect: [0x%llx, +0x%llx) wraps", (unsigned long long)pa, (unsigned long long)n);
  set_pages(pa, n);  // pages above the covered range are blocked by DEV_BASE_LO.P already
  write(d::kDevCr, 0, read(d::kDevCr, 0) | d::cr::kInvalidate);  // APM §15.24: invalidate cached DEV entries
  return Status::ok();
}

Status AmdDev::unprotect(uint64_t pa, uint64_t n) {
  if (!enabled_) return Status::fail(Err::internal, "DEV unprotect before the DEV table is enabled");
  if (n == 0) return Status::ok();
  if (pa % d::kPageSize || n % d::kPageSize || pa + n < pa)
    return Status::fail(Err::malformed, "DEV unprotect: [0x%llx, +0x%llx) is not whole pages", (unsigned long long)pa,
                        (unsigned long long)n);
  const uint64_t pages = covered_ / d::kPageSize;
  for (uint64_t p = pa / d::kPageSize; p < (pa + n) / d::kPageSize && p < pages; ++p) {
    // The table's own pages never open.
    if (p * d::kPageSize >= table_pa_ && p * d::kPageSize < table_pa_ + table_bytes_)
      return Status::fail(Err::malformed, "DEV unprotect: page 0x%llx is the DEV table's own", (unsigned long long)(p * d::kPageSize));
    table_[p / 8] &= uint8_t(~(1u << (p % 8)));
  }
  write(d::kDevCr, 0, read(d::kDevCr, 0) | d::cr::kInvalidate);  // APM §15.24: invalidate cached DEV entries
  return Status::ok();
}

void AmdDev::disable() {
  write(d::kDevCr, 0, (read(d::kDevCr, 0) & d::cr::kSlDevEn) | d::cr::kInvalidate);
  enabled_ = false;
}

bool AmdDev::is_protected(uint64_t pa, uint64_t n) {
  uint64_t first, last;
  if (!enabled_ || !page_span(pa, n, first, last)) return false;
  const uint64_t pages = covered_ / d::kPageSize;
  for (uint64_t p = first; p <= last; ++p)
    if (p < pages && !page_bit(p)) return false;
  return true;
}

}  // namespace redoubt::x86
