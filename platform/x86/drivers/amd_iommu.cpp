#include "platform/x86/drivers/amd_iommu.hpp"

#include "abi/dma_engine.hpp"
#include "arch/qemu/edu.hpp"

namespace redoubt::x86 {

namespace v = arch::amd_iommu;
namespace pci = arch::pci;
using L = AmdIommuLayout;

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kIdentityMapEnd = 512ull << 30;  // the images' identity map (1 GiB pages, 512 GiB)
constexpr uint32_t kWaitSpins = 50'000'000;          // COMPLETION_WAIT poll bound
constexpr uint64_t kIovaLimit = 1ull << 48;          // 4 levels: 48-bit I/O virtual addresses (§2.2.3)

bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return a < b + bn && b < a + an; }

bool same(const v::Dte& a, const v::Dte& b) {
  return a.q[0] == b.q[0] && a.q[1] == b.q[1] && a.q[2] == b.q[2] && a.q[3] == b.q[3];
}
}  // namespace

uint64_t AmdIommuHw::read64(uint32_t off) {
  const uint64_t lo = regs().read32(off);
  return lo | (uint64_t(regs().read32(off + 4)) << 32);
}

// Low dword first: QEMU (hw/i386/amd_iommu.c amdvi_mmio_write) latches the device
// table base on the write of its upper half, and the ring lengths live there too.
void AmdIommuHw::write64(uint32_t off, uint64_t v) {
  regs().write32(off, static_cast<uint32_t>(v));
  regs().write32(off + 4, static_cast<uint32_t>(v >> 32));
}

// PCI mechanism #1 on bus 0 (arch/x86/pci.hpp); one out-of-line copy keeps stage 1 small.
[[gnu::noinline]] uint32_t AmdIommuHw::cfg(uint32_t devfn, uint32_t reg) {
  io_.out32(pci::kConfigAddress, pci::kEnable | (devfn << 8) | (reg & 0xFC));
  return io_.in32(pci::kConfigData);
}

Status AmdIommuHw::find() {
  bool found = false;
  bool multi = false;
  for (uint32_t a = 0; a < 256; ++a) {  // device a >> 3, function a & 7
    if (a % 8 == 0) multi = false;
    else if (!multi) continue;  // PCI 3.0 §6.2.1: a single-function device has function 0 only
    if ((cfg(a, pci::kVendorId) & 0xFFFF) == 0xFFFF) continue;
    if (a % 8 == 0) multi = (cfg(a, pci::kHeaderType) >> 16) & 0x80;
    if (!((cfg(a, pci::kCommand) >> 16) & pci::kStatusCapList)) continue;
    uint32_t ptr = cfg(a, pci::kCapPtr) & 0xFC;
    for (uint32_t k = 0; ptr >= 0x40 && k < pci::kMaxCapabilities; ++k) {  // PCI 3.0 §6.7; bounded against a cycle
      const uint32_t hdr = cfg(a, ptr);
      // §3.2: capability ID 0Fh with CapType 011b is an IOMMU (000b is the DEV).
      if ((hdr & 0xFF) == v::kCapId && ((hdr >> v::kCapTypeShift) & 7) == v::kCapTypeIommu) {
        if (found) return Status::fail(Err::unsupported, "AMD-Vi: more than one IOMMU");
        found = true;
        devfn_ = a;
        cap_ = static_cast<uint8_t>(ptr);
        break;
      }
      ptr = (hdr >> 8) & 0xFC;
    }
  }
  if (!found) return Status::fail(Err::not_found, "AMD-Vi: no IOMMU capability on PCI bus 0");
  // §3.2: base = High[31:0] << 32 | Low[31:14] << 14. (QEMU 7.2 before its stable fix
  // put base[15:0] in Low and base[31:16] in High, amd_iommu.c amdvi_init: refused here.)
  const uint32_t hdr = cap_hdr_ = cfg(devfn_, cap_);
  const uint32_t lo = cfg(devfn_, cap_ + v::kCapBaseLow);
  base_ = (uint64_t(cfg(devfn_, cap_ + v::kCapBaseHigh)) << 32) | (lo & v::kCapBaseLowAddrMask);
  if (base_ != 0 && base_ + v::kMmioSize <= kIdentityMapEnd) {
    if (!test_regs_) vregs_ = VolatileMmio(base_);
    efr_ = read64(v::mmio::kExtFeature);
    if (efr_ != ~0ull && (efr_ != 0 || !(hdr & v::kCapHeaderEfrSup))) return Status::ok();
  }
  return Status::fail(Err::malformed, "AMD-Vi: no usable MMIO window at 0x%llx", (unsigned long long)base_);
}

Status AmdIommuHw::map_region(uint64_t table_pa) {
  uint8_t* r = mem_.map(table_pa, L::kBytes);
  if (!r) return Status::fail(Err::fault, "AMD-Vi region at 0x%llx is outside RAM", (unsigned long long)table_pa);
  region_pa_ = table_pa;
  table_ = reinterpret_cast<v::Dte*>(r + L::kDevTable);
  cmdbuf_ = reinterpret_cast<v::Command*>(r + L::kCmdBuf);
  evlog_ = reinterpret_cast<v::Event*>(r + L::kEventLog);
  wait_ = reinterpret_cast<volatile uint64_t*>(r + L::kWaitWord);
  return Status::ok();
}

bool AmdIommuHw::table_blocking(uint32_t& bad) const {
  for (uint32_t i = 0; i < v::kMaxDevices; ++i) {
    const volatile uint64_t* q = table_[i].q;
    if (q[0] != v::kBlockingDte.q[0] || q[1] != v::kBlockingDte.q[1] || q[2] != v::kBlockingDte.q[2] ||
        q[3] != v::kBlockingDte.q[3]) {
      bad = i;
      return false;
    }
  }
  return true;
}

Status AmdIommuHw::submit(const v::Command* cmds, size_t n) {
  constexpr uint32_t kRingBytes = (1u << L::kRingLen) * v::kCommandBytes;
  // The command, then COMPLETION_WAIT storing a fresh sequence number (§2.4 COMPLETION_WAIT:
  // the store happens only after every earlier command completed).
  const uint64_t seq = ++wait_seq_;
  *wait_ = 0;
  for (size_t i = 0; i <= n; ++i) {
    const uint32_t next = (cmd_tail_ + v::kCommandBytes) % kRingBytes;
    if (next == (regs().read32(v::mmio::kCmdBufHead) & v::kRingPtrMask)) return Status::fail(Err::fault, "AMD-Vi: command buffer full");
    cmdbuf_[cmd_tail_ / v::kCommandBytes] = i < n ? cmds[i] : v::cmd::completion_wait(region_pa_ + L::kWaitWord, seq);
    cmd_tail_ = next;
  }
  asm volatile("" ::: "memory");  // the commands are in memory before the tail moves (UC MMIO write)
  regs().write32(v::mmio::kCmdBufTail, cmd_tail_);  // §3.4 MMIO 2008h: the IOMMU fetches up to the tail
  for (uint32_t i = 0; i < kWaitSpins; ++i)
    if (*wait_ == seq) return Status::ok();
  return Status::fail(Err::fault, "AMD-Vi: COMPLETION_WAIT timed out");
}

Status AmdIommuHw::invalidate_all() {
  if (efr_ & v::ext_feature::kIaSup) {
    const v::Command c = v::cmd::invalidate_all();  // §2.4 INVALIDATE_IOMMU_ALL
    return submit(&c, 1);
  }
  // §2.4 INVALIDATE_DEVTAB_ENTRY for every DeviceID, a ring's worth at a time.
  v::Command batch[16];
  for (uint32_t d = 0; d < v::kMaxDevices; d += 16) {
    for (uint32_t k = 0; k < 16; ++k) batch[k] = v::cmd::invalidate_dte(static_cast<uint16_t>(d + k));
    REDOUBT_TRY(submit(batch, 16));
  }
  return Status::ok();
}

Status AmdIommuHw::enable(uint64_t table_pa, uint64_t table_size, const PhysRange* initial, size_t n_initial) {
  if (base_ == 0) REDOUBT_TRY(find());
  bool bad = table_pa % kPage || table_size < L::kBytes || table_pa + L::kBytes > kIdentityMapEnd;
  for (size_t k = 0; k < n_initial; ++k) bad |= overlaps(initial[k].pa, initial[k].size, table_pa, L::kBytes);
  if (bad)
    return Status::fail(Err::malformed, "AMD-Vi region at 0x%llx: unaligned, below %llu bytes or overlapping",
                        (unsigned long long)table_pa, (unsigned long long)L::kBytes);
  REDOUBT_TRY(map_region(table_pa));

  // 1. Every DeviceID blocked (§2.2.2.1), empty rings.
  for (uint32_t i = 0; i < v::kMaxDevices; ++i) table_[i] = v::kBlockingDte;
  uint8_t* rings = reinterpret_cast<uint8_t*>(cmdbuf_);
  for (uint64_t i = 0; i < L::kBytes - L::kCmdBuf; ++i) rings[i] = 0;

  // 2. Off while the bases change (§3.4: DevTabBase must not change while IommuEn = 1),
  //    no exclusion range (§3.4 MMIO 0020h: it would bypass translation), bases, pointers
  //    (§3.4 MMIO 2000h-2018h, 19 bits), a stale overflow cleared (RW1C, MMIO 2020h), enable.
  //    The MMIO writes are UC: the table stores above are globally visible before them.
  regs().write32(v::mmio::kControl, 0);
  write64(v::mmio::kExclusionBase, 0);
  write64(v::mmio::kExclusionLimit, 0);
  write64(v::mmio::kDevTableBase, table_pa | v::dev_table_base::kSizeMask);
  const uint64_t len = uint64_t(L::kRingLen) << v::ring_base::kLenShift;
  write64(v::mmio::kCmdBufBase, (table_pa + L::kCmdBuf) | len);
  write64(v::mmio::kEventLogBase, (table_pa + L::kEventLog) | len);
  for (uint32_t r = v::mmio::kCmdBufHead; r <= v::mmio::kEventLogTail; r += 8) regs().write32(r, 0);
  cmd_tail_ = 0;
  regs().write32(v::mmio::kStatus, uint32_t(v::status::kEventOverflow | v::status::kEventLogInt | v::status::kComWaitInt));
  //    HtTunEn where the IOMMU can translate HyperTransport tunnel traffic: with it clear that
  //    traffic would pass untranslated (§3.4 MMIO 0018h).
  const uint32_t kOn = uint32_t(v::control::kIommuEn | v::control::kEventLogEn | v::control::kCmdBufEn | v::control::kCoherent |
                                ((cap_hdr_ & v::kCapHeaderHtTunnel) ? v::control::kHtTunEn : 0));
  regs().write32(v::mmio::kControl, kOn);

  // 3. Read the state back.
  const uint32_t ctl = regs().read32(v::mmio::kControl);
  const uint64_t dtb = read64(v::mmio::kDevTableBase);
  if ((ctl & kOn) != kOn || dtb != (table_pa | v::dev_table_base::kSizeMask) || (read64(v::mmio::kExclusionBase) & v::exclusion::kExEn))
    return Status::fail(Err::fault, "AMD-Vi: control 0x%x, device table 0x%llx after programming", ctl, (unsigned long long)dtb);
  enabled_ = true;

  // 4. Forget whatever the IOMMU cached from an earlier configuration, and wait for it.
  REDOUBT_TRY(invalidate_all());

  // 5. The table now protects itself: any difference was written by DMA before step 2.
  uint32_t dte = 0;
  if (!table_blocking(dte)) {
    enabled_ = false;
    return Status::fail(Err::fault, "AMD-Vi DTE %u was changed by DMA before the enable", dte);
  }
  return Status::ok();
}

Status AmdIommuHw::attach() {
  if (base_ == 0) REDOUBT_TRY(find());
  const uint64_t ctl = read64(v::mmio::kControl);
  if (!(ctl & v::control::kIommuEn)) return Status::fail(Err::fault, "AMD-Vi: not enabled (control 0x%llx)", (unsigned long long)ctl);
  if (!(ctl & v::control::kCmdBufEn) || !(ctl & v::control::kEventLogEn))
    return Status::fail(Err::fault, "AMD-Vi: command buffer or event log off (control 0x%llx)", (unsigned long long)ctl);
  if (read64(v::mmio::kExclusionBase) & v::exclusion::kExEn) return Status::fail(Err::fault, "AMD-Vi: an exclusion range is enabled");
  const uint64_t dtb = read64(v::mmio::kDevTableBase);
  const uint64_t pa = dtb & v::dev_table_base::kAddrMask;
  if ((dtb & v::dev_table_base::kSizeMask) != v::dev_table_base::kSizeMask)
    return Status::fail(Err::fault, "AMD-Vi: the device table (0x%llx) does not cover every DeviceID", (unsigned long long)dtb);
  const uint64_t len = uint64_t(L::kRingLen) << v::ring_base::kLenShift;
  if (read64(v::mmio::kCmdBufBase) != ((pa + L::kCmdBuf) | len) || read64(v::mmio::kEventLogBase) != ((pa + L::kEventLog) | len))
    return Status::fail(Err::fault, "AMD-Vi: command buffer / event log are not where enable() puts them");
  REDOUBT_TRY(map_region(pa));
  uint32_t bad = 0;
  if (!table_blocking(bad))
    return Status::fail(Err::fault, "AMD-Vi: DTE %u (%02x:%02x.%x) does not block (0x%llx)", bad, bad >> 8, (bad >> 3) & 31,
                        bad & 7, (unsigned long long)table_[bad].q[0]);
  cmd_tail_ = static_cast<uint32_t>(read64(v::mmio::kCmdBufTail) & v::kRingPtrMask);
  enabled_ = true;
  return Status::ok();
}

Status AmdIommuHw::check_protected(uint64_t pa, uint64_t n) {
  if (n == 0 || covered(pa, n)) return Status::ok();
  return Status::fail(Err::internal, "AMD-Vi: [0x%llx, +0x%llx) is not protected (IOMMU off, wraps or granted)",
                      (unsigned long long)pa, (unsigned long long)n);
}

bool AmdIommuHw::covered(uint64_t pa, uint64_t n) {
  if (!enabled_ || n == 0 || pa + (n - 1) < pa) return false;
  if (!(read64(v::mmio::kControl) & v::control::kIommuEn)) return false;
  for (size_t i = 0; i < n_grants_; ++i)
    if (overlaps(pa, n, grants_[i].pa, grants_[i].size)) return false;
  return true;
}

Status AmdIommuHw::set_page_table_pool(uint64_t pa, uint64_t size) {
  if (pa % kPage || size < kPage || !mem_.map(pa, size))
    return Status::fail(Err::malformed, "AMD-Vi page-table pool [0x%llx, +0x%llx) is unaligned, empty or outside RAM",
                        (unsigned long long)pa, (unsigned long long)size);
  pool_pa_ = pa;
  pool_size_ = size;
  pool_used_ = 0;
  return Status::ok();
}

// A fresh table: every entry not present (PR = 0, §2.2.3).
uint64_t* AmdIommuHw::alloc_table(uint64_t& pa) {
  if (pool_used_ + kPage > pool_size_) return nullptr;
  pa = pool_pa_ + pool_used_;
  auto* t = reinterpret_cast<uint64_t*>(mem_.map(pa, kPage));
  if (!t) return nullptr;
  pool_used_ += kPage;
  for (uint32_t i = 0; i < v::kEntriesPerTable; ++i) t[i] = 0;
  return t;
}

Status AmdIommuHw::grant(uint16_t device_id, uint64_t iova, uint64_t pa, uint64_t size, bool read, bool write,
                         uint16_t domain_id) {
  if (!enabled_) return Status::fail(Err::internal, "AMD-Vi grant before the IOMMU is enabled");
  if (iova % kPage || pa % kPage || size == 0 || size % kPage || iova + size > kIovaLimit || iova + size < iova ||
      pa + size < pa)
    return Status::fail(Err::malformed, "AMD-Vi grant: iova 0x%llx pa 0x%llx size 0x%llx is not page granular or beyond 48 bits",
                        (unsigned long long)iova, (unsigned long long)pa, (unsigned long long)size);
  if (n_grants_ == kMaxGrants) return Status::fail(Err::unsupported, "AMD-Vi grant: more than %u grants", unsigned(kMaxGrants));
  if (overlaps(pa, size, region_pa_, L::kBytes) || overlaps(pa, size, pool_pa_, pool_size_))
    return Status::fail(Err::malformed, "AMD-Vi grant: [0x%llx, +0x%llx) covers the IOMMU's own tables", (unsigned long long)pa,
                        (unsigned long long)size);
  const uint64_t perm = (read ? v::pte::kIr : 0) | (write ? v::pte::kIw : 0);
  v::Dte& d = table_[device_id];
  const uint64_t mode = (d.q[0] & v::dte::kModeMask) >> v::dte::kModeShift;
  uint64_t* root;
  uint64_t root_pa = 0;
  if (mode == 0) {
    if (!same(d, v::kBlockingDte)) return Status::fail(Err::internal, "AMD-Vi grant: DTE %u is neither blocking nor ours", device_id);
    root = alloc_table(root_pa);
  } else if (mode == v::kLevels4) {
    root_pa = d.q[0] & v::dte::kRootMask;
    root = reinterpret_cast<uint64_t*>(mem_.map(root_pa, kPage));
  } else {
    return Status::fail(Err::internal, "AMD-Vi grant: DTE %u has paging mode %llu", device_id, (unsigned long long)mode);
  }
  if (!root) return Status::fail(Err::unsupported, "AMD-Vi grant: the page-table pool is exhausted");
  for (uint64_t off = 0; off < size; off += kPage) {
    uint64_t* t = root;
    for (uint32_t level = v::kLevels4; level > 1; --level) {
      uint64_t& e = t[v::table_index(iova + off, level)];
      if (!(e & v::pte::kPr)) {
        uint64_t next_pa = 0;
        if (!alloc_table(next_pa)) return Status::fail(Err::unsupported, "AMD-Vi grant: the page-table pool is exhausted");
        // §2.2.3: a PDE names the next table and its level; permissions AND down the walk.
        e = (next_pa & v::pte::kAddrMask) | (uint64_t(level - 1) << v::pte::kNextLevelShift) |
            v::pte::kIr | v::pte::kIw | v::pte::kPr;
      }
      t = reinterpret_cast<uint64_t*>(mem_.map(e & v::pte::kAddrMask, kPage));
      if (!t) return Status::fail(Err::fault, "AMD-Vi grant: a page table at 0x%llx is outside RAM", (unsigned long long)(e & v::pte::kAddrMask));
    }
    // §2.2.3: a level-1 PTE, NextLevel 0: a 4 KiB page.
    t[v::table_index(iova + off, 1)] = ((pa + off) & v::pte::kAddrMask) | perm | v::pte::kPr;
  }
  grants_[n_grants_++] = {device_id, pa, size};
  // §2.2.2.1: Mode 4 (a 4-level table), IR/IW let the page tables decide; a domain per device.
  v::Dte g = v::kBlockingDte;
  g.q[0] = (root_pa & v::dte::kRootMask) | (uint64_t(v::kLevels4) << v::dte::kModeShift) |
           v::dte::kIr | v::dte::kIw | v::dte::kTv | v::dte::kV;
  g.q[1] = domain_id ? domain_id : uint64_t(device_id) + 1;  // DomainID: non-zero
  d.q[1] = g.q[1];
  d.q[2] = g.q[2];
  d.q[3] = g.q[3];
  d.q[0] = g.q[0];  // V/TV/Mode last
  const v::Command c[] = {v::cmd::invalidate_dte(device_id), v::cmd::invalidate_domain_pages(static_cast<uint16_t>(g.q[1]))};
  return submit(c, 2);
}

[[gnu::noinline]] uint32_t AmdIommuHw::cfg_any(uint16_t device_id, uint32_t reg) {
  io_.out32(pci::kConfigAddress, pci::kEnable | (uint32_t(device_id) << 8) | (reg & 0xFC));  // bus:dev.fn at [23:8]
  return io_.in32(pci::kConfigData);
}

void AmdIommuHw::zero_tables(uint64_t table_pa, uint32_t level) {
  auto* t = reinterpret_cast<uint64_t*>(mem_.map(table_pa, kPage));
  if (!t || !overlaps(table_pa, kPage, pool_pa_, pool_size_)) return;  // only tables this driver built
  for (uint32_t i = 0; i < v::kEntriesPerTable; ++i) {
    if (level > 1 && (t[i] & v::pte::kPr)) zero_tables(t[i] & v::pte::kAddrMask, level - 1);
    t[i] = 0;
  }
}

Status AmdIommuHw::revoke(uint16_t device_id, bool invalidate) {
  if (!enabled_) return Status::fail(Err::internal, "AMD-Vi revoke before the IOMMU is enabled");
  v::Dte& d = table_[device_id];
  const uint64_t mode = (d.q[0] & v::dte::kModeMask) >> v::dte::kModeShift;
  const uint16_t domain = static_cast<uint16_t>(d.q[1] & 0xFFFF);
  const uint64_t root_pa = d.q[0] & v::dte::kRootMask;
  // §2.2.2.1: V/TV/Mode first, so the device is blocked before anything else changes.
  d.q[0] = v::kBlockingDte.q[0];
  d.q[1] = v::kBlockingDte.q[1];
  d.q[2] = v::kBlockingDte.q[2];
  d.q[3] = v::kBlockingDte.q[3];
  size_t k = 0;
  for (size_t i = 0; i < n_grants_; ++i)
    if (grants_[i].device != device_id) grants_[k++] = grants_[i];
  n_grants_ = k;
  if (!invalidate) return Status::ok();  // TEST ONLY: the DTE and IOTLB caches keep the old translation
  const v::Command c[] = {v::cmd::invalidate_dte(device_id), v::cmd::invalidate_domain_pages(domain)};
  REDOUBT_TRY(submit(c, 2));
  // Only now that no walk can be in flight: the tables go.
  if (mode == v::kLevels4) zero_tables(root_pa, v::kLevels4);
  return Status::ok();
}

Status AmdIommuHw::engine_bar(uint16_t device_id, uint64_t& bar_pa, uint64_t& bar_size) {
  namespace e = abi::dma_engine;
  const uint32_t id = cfg_any(device_id, pci::kVendorId);
  const bool engine = (id & 0xFFFF) == e::kVendorId && (id >> 16) == e::kDeviceId;
  const bool edu = (id & 0xFFFF) == arch::edu::kVendorId && (id >> 16) == arch::edu::kDeviceId;
  if (!engine && !edu)
    return Status::fail(Err::unsupported, "device %02x:%02x.%x (id 0x%08x) is not an assignable DMA engine", device_id >> 8,
                        (device_id >> 3) & 31, device_id & 7, id);
  const uint32_t cmd = cfg_any(device_id, pci::kCommand);
  if (!(cmd & e::kCmdMemory))
    return Status::fail(Err::unsupported, "device %02x:%02x.%x: Memory Space is off", device_id >> 8, (device_id >> 3) & 31,
                        device_id & 7);
  const uint32_t bar = cfg_any(device_id, e::kBar0);
  if (bar & 0x7)  // PCI 3.0 §6.2.5.1: bit 0 memory, bits 2:1 = 00b (32-bit)
    return Status::fail(Err::unsupported, "device %02x:%02x.%x: BAR0 0x%08x is not a 32-bit memory BAR", device_id >> 8,
                        (device_id >> 3) & 31, device_id & 7, bar);
  bar_pa = bar & ~uint32_t(0xF);
  bar_size = edu ? arch::edu::kBarSize : e::kBarSize;
  if (bar_pa == 0 || bar_pa % bar_size)
    return Status::fail(Err::unsupported, "device %02x:%02x.%x: BAR0 0x%08x is unassigned or misaligned", device_id >> 8,
                        (device_id >> 3) & 31, device_id & 7, bar);
  // QEMU's edu does DMA only with Bus Master on (PCI 3.0 §6.2.2 bit 2), and firmware leaves it
  // off. Turned on here, while the device's DTE is still the blocking one (assign comes next).
  if (edu && !(cmd & e::kCmdBusMaster)) {
    io_.out32(pci::kConfigAddress, pci::kEnable | (uint32_t(device_id) << 8) | pci::kCommand);
    io_.out32(pci::kConfigData, (cmd & 0xFFFF) | e::kCmdBusMaster);
  }
  return Status::ok();
}

size_t AmdIommuHw::read_events(v::Event* out, size_t max) {
  if (!evlog_) return 0;
  constexpr uint32_t kRingBytes = (1u << L::kRingLen) * v::kEventBytes;
  uint32_t head = static_cast<uint32_t>(read64(v::mmio::kEventLogHead) & v::kRingPtrMask) % kRingBytes;
  const uint32_t tail = static_cast<uint32_t>(read64(v::mmio::kEventLogTail) & v::kRingPtrMask) % kRingBytes;
  size_t n = 0;
  while (head != tail && n < max) {
    const volatile uint64_t* e = evlog_[head / v::kEventBytes].q;
    out[n++] = {{e[0], e[1]}};
    head = (head + v::kEventBytes) % kRingBytes;
  }
  regs().write32(v::mmio::kEventLogHead, head);  // §3.4 MMIO 2010h: software consumed up to here
  return n;
}

bool AmdIommuHw::event_overflow() { return read64(v::mmio::kStatus) & v::status::kEventOverflow; }

}  // namespace redoubt::x86
