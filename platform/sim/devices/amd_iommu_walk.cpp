// The simulated AMD-Vi's translation of a bus-master request: the device table
// entry (§2.2.2.1), the host I/O page tables (§2.2.3), the caches and the
// IO_PAGE_FAULT events (§2.5). Registers and commands: amd_iommu.cpp.
#include <cstring>

#include "platform/sim/devices/amd_iommu.hpp"

namespace redoubt::sim {

namespace v = arch::amd_iommu;

namespace {
constexpr uint64_t kPageMask = 0xFFF;
constexpr uint64_t kExAddrMask = 0x000FFFFFFFFFF000ull;
}  // namespace

std::optional<uint64_t> AmdIommu::translate(uint16_t device_id, uint64_t addr, bool write) {
  if (!enabled()) return addr;  // §3.4 MMIO 0018h: IommuEn = 0: requests pass untranslated
  ++stats_.translations;
  // §3.4 MMIO 0020h-0028h: the exclusion range bypasses translation, for every device
  // with Allow, else for devices whose DTE has EX set.
  const bool excluded = (excl_base_ & v::exclusion::kExEn) && addr >= (excl_base_ & kExAddrMask) &&
                        addr <= ((excl_limit_ & kExAddrMask) | kPageMask);
  if (excluded && (excl_base_ & v::exclusion::kAllow)) return addr;
  const std::optional<Dte> d = fetch_dte(device_id, addr, write);
  if (!d) return std::nullopt;
  const uint64_t q0 = d->q[0];
  if (!(q0 & v::dte::kV)) return addr;  // §2.2.2.1: V = 0: no translation, no checks
  if (excluded && (d->q[1] & v::dte::kEx)) return addr;
  // V = 1, TV = 0: no valid translation information. Modelled fail-closed: target abort and an
  // IO_PAGE_FAULT (PR = 0), as QEMU 7.2 blocks it too (docs/dma.md "AMD-Vi model").
  if (!(q0 & v::dte::kTv)) {
    page_fault(device_id, *d, addr, write, 0);
    return std::nullopt;
  }
  const uint32_t mode = v::dte::mode(q0);
  if (mode == v::dte::kModeReserved) {  // §2.2.2.1: Mode 111b is reserved: ILLEGAL_DEV_TABLE_ENTRY
    log_event(v::event::make(v::kIllegalDevTableEntry, device_id, 0, write ? v::event::kFlagRw : 0, addr));
    return std::nullopt;
  }
  // §2.2.2.1: IR/IW of the DTE apply to every access (ANDed with the page tables').
  if (!(q0 & (write ? v::dte::kIw : v::dte::kIr))) {
    page_fault(device_id, *d, addr, write, v::event::kFlagPr | v::event::kFlagPe);
    return std::nullopt;
  }
  if (mode == v::dte::kModeNone) return addr;  // §2.2.2.1 Mode 000b: untranslated, IR/IW decided
  return walk(device_id, *d, addr, write);
}

std::optional<AmdIommu::Dte> AmdIommu::fetch_dte(uint16_t device_id, uint64_t addr, bool write) {
  if (auto it = dte_cache_.find(device_id); it != dte_cache_.end()) {
    ++stats_.dte_cache_hits;
    return it->second;
  }
  const uint32_t rw = write ? v::event::kFlagRw : 0;
  // §3.4 MMIO 0000h: Size = pages - 1. A DeviceID beyond the table is refused
  // (ILLEGAL_DEV_TABLE_ENTRY), not read from whatever follows it (QEMU 7.2 reads on).
  const uint64_t entries = ((dev_table_base_ & v::dev_table_base::kSizeMask) + 1) * 4096 / v::kDteBytes;
  if (device_id >= entries) {
    log_event(v::event::make(v::kIllegalDevTableEntry, device_id, 0, rw, addr));
    return std::nullopt;
  }
  const uint64_t at = (dev_table_base_ & v::dev_table_base::kAddrMask) + uint64_t{device_id} * v::kDteBytes;
  const uint8_t* p = mem_.map(at, v::kDteBytes);
  if (!p) {  // §2.5 DEV_TAB_HARDWARE_ERROR: the entry could not be read
    log_event(v::event::make(v::kDevTabHwError, device_id, 0, rw, at));
    return std::nullopt;
  }
  Dte d;
  std::memcpy(d.q, p, v::kDteBytes);
  dte_cache_[device_id] = d;  // every entry read is cached, V = 0 ones too, until INVALIDATE_DEVTAB_ENTRY
  return d;
}

void AmdIommu::page_fault(uint16_t device_id, const Dte& d, uint64_t addr, bool write, uint32_t flags) {
  // §2.2.2.1: SA suppresses every IO_PAGE_FAULT of the device; SE is modelled the same way.
  if (d.q[1] & (v::dte::kSa | v::dte::kSe)) return;
  const uint16_t domain = uint16_t(d.q[1] & v::dte::kDomainIdMask);
  log_event(v::event::make(v::kIoPageFault, device_id, domain, flags | (write ? v::event::kFlagRw : 0), addr));
}

std::optional<uint64_t> AmdIommu::walk(uint16_t device_id, const Dte& d, uint64_t addr, bool write) {
  const uint16_t domain = uint16_t(d.q[1] & v::dte::kDomainIdMask);
  const uint32_t mode = v::dte::mode(d.q[0]);
  const uint32_t pr = v::event::kFlagPr;
  // §2.2.2.1: an address wider than the Mode's levels translate is a page fault.
  if (mode < 6 && (addr >> v::mode_va_bits(mode)) != 0) {
    page_fault(device_id, d, addr, write, 0);
    return std::nullopt;
  }
  if (auto it = iotlb_.find({domain, addr >> 12}); it != iotlb_.end()) {
    ++stats_.iotlb_hits;
    if (!(write ? it->second.w : it->second.r)) {
      page_fault(device_id, d, addr, write, pr | v::event::kFlagPe);
      return std::nullopt;
    }
    return it->second.pa_page | (addr & kPageMask);
  }
  ++stats_.walks;
  uint64_t table = d.q[0] & v::dte::kRootMask;
  bool r = true, w = true;
  for (uint32_t level = mode; level >= 1;) {
    const std::tuple<uint16_t, uint32_t, uint64_t> key{domain, level, addr >> v::level_shift(level)};
    uint64_t e;
    bool cached = false;
    if (auto pc = pde_cache_.find(key); pc != pde_cache_.end()) {
      e = pc->second;
      cached = true;
      ++stats_.pde_cache_hits;
    } else {
      const uint64_t ea = table + 8ull * v::table_index(addr, level);
      const uint8_t* p = mem_.map(ea, 8);
      if (!p) {  // §2.5 PAGE_TAB_HARDWARE_ERROR: the entry could not be read
        log_event(v::event::make(v::kPageTabHwError, device_id, domain, write ? v::event::kFlagRw : 0, ea));
        return std::nullopt;
      }
      std::memcpy(&e, p, 8);
    }
    if (!(e & v::pte::kPr)) {  // §2.2.3: not present (never cached: NpCache = 0)
      page_fault(device_id, d, addr, write, 0);
      return std::nullopt;
    }
    if (e & v::pte::kReservedMask) {  // §2.2.3: reserved bits set
      page_fault(device_id, d, addr, write, pr | v::event::kFlagRz);
      return std::nullopt;
    }
    r = r && (e & v::pte::kIr);  // §2.2.3: permissions are ANDed down the walk
    w = w && (e & v::pte::kIw);
    const uint32_t next = v::pte::next_level(e);
    if (next == v::pte::kNextLevelPage || next == v::pte::kNextLevelSized) {
      // §2.2.3: a page: this level's size (NextLevel 0), or the size the address bits
      // encode (NextLevel 7), which must lie above this level's and below the next one's.
      uint32_t shift = v::level_shift(level);
      if (next == v::pte::kNextLevelSized) {
        shift = v::pte::encoded_page_shift(e);
        if (shift <= v::level_shift(level) || shift >= v::level_shift(level) + 9) {
          page_fault(device_id, d, addr, write, pr);
          return std::nullopt;
        }
      }
      const uint64_t size_mask = shift >= 64 ? ~0ull : (1ull << shift) - 1;
      const uint64_t pa = ((e & v::pte::kAddrMask) & ~size_mask) | (addr & size_mask);
      if (!(write ? w : r)) {
        page_fault(device_id, d, addr, write, pr | v::event::kFlagPe);
        return std::nullopt;
      }
      if (iotlb_.size() >= cfg_.iotlb_capacity) {
        iotlb_.clear();
        ++stats_.iotlb_flushes_full;
      }
      iotlb_[{domain, addr >> 12}] = {pa & ~kPageMask, r, w};
      return pa;
    }
    // §2.2.3: NextLevel names a lower level (1..level-1); levels in between are skipped, and
    // the address bits that would have indexed them must be zero.
    if (level == 1 || next >= level) {
      page_fault(device_id, d, addr, write, pr);
      return std::nullopt;
    }
    for (uint32_t s = next + 1; s < level; ++s)
      if (v::table_index(addr, s) != 0) {
        page_fault(device_id, d, addr, write, pr);
        return std::nullopt;
      }
    if (!cached) pde_cache_[key] = e;
    table = e & v::pte::kAddrMask;
    level = next;
  }
  return std::nullopt;
}

void AmdIommu::invalidate_pages(uint16_t domain, uint64_t first, uint64_t last, bool pde) {
  for (auto it = iotlb_.lower_bound({domain, first >> 12}); it != iotlb_.end() && it->first.first == domain &&
                                                             it->first.second <= (last >> 12);)
    it = iotlb_.erase(it);
  if (!pde) return;  // §2.4: PDE = 0 leaves cached page-directory entries alone
  for (auto it = pde_cache_.begin(); it != pde_cache_.end();) {
    const auto& [dom, level, prefix] = it->first;
    const uint32_t sh = v::level_shift(level);
    const uint64_t lo = prefix << sh, hi = lo | ((1ull << sh) - 1);
    if (dom == domain && lo <= last && first <= hi) it = pde_cache_.erase(it);
    else ++it;
  }
}

}  // namespace redoubt::sim
