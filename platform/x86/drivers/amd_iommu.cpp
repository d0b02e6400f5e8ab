#include "platform/x86/drivers/amd_iommu.hpp"

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

uint64_t AmdIommu::read64(uint32_t off) {
  const uint64_t lo = regs().read32(off);
  return lo | (uint64_t(regs().read32(off + 4)) << 32);
}

// Low dword first: QEMU (hw/i386/amd_iommu.c amdvi_mmio_write) latches the device
// table base on the write of its upper half, and the ring lengths live there too.
void AmdIommu::write64(uint32_t off, uint64_t v) {
  regs().write32(off, static_cast<uint32_t>(v));
  regs().write32(off + 4, static_cast<uint32_t>(v >> 32));
}

Status AmdIommu::find() {
  bool found = false;
  for (uint8_t dev = 0; dev < 32; ++dev) {
    for (uint8_t fn = 0; fn < 8; ++fn) {
      const PciAddress a{0, dev, fn};
      const uint32_t id = pci_read32(io_, a, pci::kVendorId);
      if ((id & 0xFFFF) == 0xFFFF) {
        if (fn == 0) break;  // no device
        continue;
      }
      if ((pci_read32(io_, a, pci::kCommand) >> 16) & pci::kStatusCapList) {
        uint8_t ptr = static_cast<uint8_t>(pci_read32(io_, a, pci::kCapPtr) & 0xFC);
        for (uint32_t i = 0; ptr >= 0x40 && i < pci::kMaxCapabilities; ++i) {  // PCI 3.0 §6.7; bounded
          const uint32_t hdr = pci_read32(io_, a, ptr);
          // §3.2: capability ID 0Fh with CapType 011b is an IOMMU (000b is the DEV).
          if ((hdr & 0xFF) == v::kCapId && ((hdr >> v::kCapTypeShift) & 7) == v::kCapTypeIommu) {
            if (found)
              return Status::fail(Err::unsupported, "AMD-Vi: a second IOMMU at 00:%02x.%x (only one is supported)",
                                  unsigned(dev), unsigned(fn));
            found = true;
            pci_ = a;
            cap_ = ptr;
            break;
          }
          ptr = static_cast<uint8_t>((hdr >> 8) & 0xFC);
        }
      }
      if (fn == 0 && !((pci_read32(io_, a, 0x0C) >> 16) & 0x80)) break;  // PCI 3.0 §6.2.1: single-function
    }
  }
  if (!found) return Status::fail(Err::not_found, "AMD-Vi: no IOMMU capability (ID 0Fh, type 011b) on PCI bus 0");

  const uint32_t hdr = pci_read32(io_, pci_, cap_);
  const uint32_t lo = pci_read32(io_, pci_, static_cast<uint8_t>(cap_ + v::kCapBaseLow));
  const uint32_t hi = pci_read32(io_, pci_, static_cast<uint8_t>(cap_ + v::kCapBaseHigh));
  // §3.2: base = High[31:0] << 32 | Low[31:14] << 14. QEMU before its 7.2.x fix
  // (amd_iommu.c amdvi_init / amdvi_pci_realize) wrote base[15:0] into Low and
  // base[31:16] into High: Low's address bits 0 and a 16-bit High.
  if ((lo & v::kCapBaseLowAddrMask) == 0 && hi != 0 && hi <= 0xFFFF) {
    base_ = uint64_t(hi) << 16;
    base_quirk_ = true;
  } else {
    base_ = (uint64_t(hi) << 32) | (lo & v::kCapBaseLowAddrMask);
  }
  if (base_ == 0 || base_ % v::kMmioAlign || base_ + v::kMmioSize > kIdentityMapEnd)
    return Status::fail(Err::malformed, "AMD-Vi: MMIO base 0x%llx (cap 0x%08x 0x%08x) is null, unaligned or beyond the identity map",
                        (unsigned long long)base_, lo, hi);
  if (!test_regs_) vregs_ = VolatileMmio(base_);
  efr_ = read64(v::mmio::kExtFeature);
  if (efr_ == ~0ull || ((hdr & v::kCapHeaderEfrSup) && efr_ == 0))
    return Status::fail(Err::malformed, "AMD-Vi: MMIO window at 0x%llx does not answer (extended features 0x%llx)",
                        (unsigned long long)base_, (unsigned long long)efr_);
  return Status::ok();
}

Status AmdIommu::map_region(uint64_t table_pa) {
  uint8_t* r = mem_.map(table_pa, L::kBytes);
  if (!r) return Status::fail(Err::fault, "AMD-Vi region [0x%llx, +0x%llx) is outside RAM", (unsigned long long)table_pa,
                              (unsigned long long)L::kBytes);
  region_pa_ = table_pa;
  table_ = reinterpret_cast<v::Dte*>(r + L::kDevTable);
  cmdbuf_ = reinterpret_cast<v::Command*>(r + L::kCmdBuf);
  evlog_ = reinterpret_cast<v::Event*>(r + L::kEventLog);
  wait_ = reinterpret_cast<volatile uint64_t*>(r + L::kWaitWord);
  return Status::ok();
}

bool AmdIommu::table_blocking(uint32_t& bad) const {
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

Status AmdIommu::submit(const v::Command* cmds, size_t n) {
  constexpr uint32_t kRingBytes = (1u << L::kRingLen) * v::kCommandBytes;
  // The command, then COMPLETION_WAIT storing a fresh sequence number (§2.4 COMPLETION_WAIT:
  // the store happens only after every earlier command completed).
  const uint64_t seq = ++wait_seq_;
  *wait_ = 0;
  for (size_t i = 0; i <= n; ++i) {
    const uint32_t next = (cmd_tail_ + v::kCommandBytes) % kRingBytes;
    if (next == (read64(v::mmio::kCmdBufHead) & v::kRingPtrMask))
      return Status::fail(Err::fault, "AMD-Vi: command buffer full (head 0x%x)", next);
    cmdbuf_[cmd_tail_ / v::kCommandBytes] = i < n ? cmds[i] : v::cmd::completion_wait(region_pa_ + L::kWaitWord, seq);
    cmd_tail_ = next;
  }
  asm volatile("" ::: "memory");  // the commands are in memory before the tail moves (UC MMIO write)
  regs().write32(v::mmio::kCmdBufTail, cmd_tail_);  // §3.4 MMIO 2008h: the IOMMU fetches up to the tail
  for (uint32_t i = 0; i < kWaitSpins; ++i)
    if (*wait_ == seq) return Status::ok();
  return Status::fail(Err::fault, "AMD-Vi: COMPLETION_WAIT did not complete (status 0x%llx, head 0x%llx, tail 0x%x)",
                      (unsigned long long)read64(v::mmio::kStatus), (unsigned long long)read64(v::mmio::kCmdBufHead),
                      cmd_tail_);
}

Status AmdIommu::invalidate_all() {
  if (efr_ & v::ext_feature::kIaSup) {
    const v::Command c = v::cmd::invalidate_all();  // §2.4 INVALIDATE_IOMMU_ALL
    return submit(&c, 1);
  }
  // §2.4 INVALIDATE_DEVTAB_ENTRY for every DeviceID, a ring's worth at a time.
  v::Command batch[64];
  for (uint32_t d = 0; d < v::kMaxDevices; d += 64) {
    for (uint32_t k = 0; k < 64; ++k) batch[k] = v::cmd::invalidate_dte(static_cast<uint16_t>(d + k));
    REDOUBT_TRY(submit(batch, 64));
  }
  return Status::ok();
}

Status AmdIommu::enable(uint64_t table_pa, uint64_t table_size, const PhysRange* initial, size_t n_initial) {
  if (base_ == 0) REDOUBT_TRY(find());
  if (table_pa % kPage) return Status::fail(Err::malformed, "AMD-Vi region at 0x%llx is not 4 KiB aligned", (unsigned long long)table_pa);
  if (table_size < L::kBytes)
    return Status::fail(Err::malformed, "AMD-Vi region of %llu bytes is below the %llu a device table for every DeviceID needs",
                        (unsigned long long)table_size, (unsigned long long)L::kBytes);
  if (table_pa + L::kBytes > kIdentityMapEnd)
    return Status::fail(Err::malformed, "AMD-Vi region at 0x%llx is beyond the identity map", (unsigned long long)table_pa);
  for (size_t k = 0; k < n_initial; ++k)
    if (overlaps(initial[k].pa, initial[k].size, table_pa, L::kBytes))
      return Status::fail(Err::malformed, "AMD-Vi region overlaps the protected range at 0x%llx", (unsigned long long)initial[k].pa);
  REDOUBT_TRY(map_region(table_pa));

  // 1. Every DeviceID blocked (§2.2.2.1), empty rings.
  for (uint32_t i = 0; i < v::kMaxDevices; ++i) table_[i] = v::kBlockingDte;
  uint8_t* rings = reinterpret_cast<uint8_t*>(cmdbuf_);
  for (uint64_t i = 0; i < L::kBytes - L::kCmdBuf; ++i) rings[i] = 0;

  // 2. Off while the bases change (§3.4: DevTabBase must not change while IommuEn = 1),
  //    no exclusion range (§3.4 MMIO 0020h: it would bypass translation), bases, enable.
  regs().write32(v::mmio::kControl, 0);
  regs().write32(v::mmio::kControl + 4, 0);
  write64(v::mmio::kExclusionBase, 0);
  write64(v::mmio::kExclusionLimit, 0);
  write64(v::mmio::kDevTableBase, (table_pa & v::dev_table_base::kAddrMask) | v::dev_table_base::kSizeMask);
  const uint64_t len = uint64_t(L::kRingLen) << v::ring_base::kLenShift;
  write64(v::mmio::kCmdBufBase, ((table_pa + L::kCmdBuf) & v::ring_base::kAddrMask) | len);
  write64(v::mmio::kEventLogBase, ((table_pa + L::kEventLog) & v::ring_base::kAddrMask) | len);
  write64(v::mmio::kCmdBufHead, 0);
  write64(v::mmio::kCmdBufTail, 0);
  write64(v::mmio::kEventLogHead, 0);
  write64(v::mmio::kEventLogTail, 0);
  cmd_tail_ = 0;
  // RW1C: clear a stale overflow, or events would not be logged (§3.4 MMIO 2020h).
  regs().write32(v::mmio::kStatus, uint32_t(v::status::kEventOverflow | v::status::kEventLogInt | v::status::kComWaitInt));
  // The register writes are UC: the table stores above are globally visible first.
  regs().write32(v::mmio::kControl, uint32_t(v::control::kIommuEn | v::control::kEventLogEn | v::control::kCmdBufEn |
                                             v::control::kCoherent));

  // 3. Read the state back.
  const uint64_t ctl = read64(v::mmio::kControl);
  if (!(ctl & v::control::kIommuEn) || !(ctl & v::control::kCmdBufEn) || !(ctl & v::control::kEventLogEn))
    return Status::fail(Err::fault, "AMD-Vi: IommuEn/CmdBufEn/EventLogEn did not stick (control 0x%llx)", (unsigned long long)ctl);
  const uint64_t dtb = read64(v::mmio::kDevTableBase);
  if ((dtb & v::dev_table_base::kAddrMask) != table_pa || (dtb & v::dev_table_base::kSizeMask) != v::dev_table_base::kSizeMask)
    return Status::fail(Err::fault, "AMD-Vi: device table base reads 0x%llx after programming", (unsigned long long)dtb);
  if (read64(v::mmio::kExclusionBase) & v::exclusion::kExEn)
    return Status::fail(Err::fault, "AMD-Vi: the exclusion range is still enabled");
  enabled_ = true;

  // 4. Forget whatever the IOMMU cached from an earlier configuration, and wait for it.
  REDOUBT_TRY(invalidate_all());

  // 5. The table now protects itself: any difference was written by DMA before step 2.
  uint32_t bad = 0;
  if (!table_blocking(bad)) {
    enabled_ = false;
    return Status::fail(Err::fault, "AMD-Vi DTE %u (%02x:%02x.%x) reads 0x%llx, wrote 0x%llx: it was changed by DMA before the enable",
                        bad, bad >> 8, (bad >> 3) & 31, bad & 7, (unsigned long long)table_[bad].q[0],
                        (unsigned long long)v::kBlockingDte.q[0]);
  }
  return Status::ok();
}

Status AmdIommu::attach() {
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

Status AmdIommu::protect(uint64_t pa, uint64_t n) {
  if (!enabled_) return Status::fail(Err::internal, "AMD-Vi protect before the IOMMU is enabled");
  if (n == 0) return Status::ok();
  if (pa + (n - 1) < pa) return Status::fail(Err::malformed, "AMD-Vi protect: [0x%llx, +0x%llx) wraps", (unsigned long long)pa, (unsigned long long)n);
  if (!is_protected(pa, n))
    return Status::fail(Err::internal, "AMD-Vi protect: [0x%llx, +0x%llx) is granted to a device", (unsigned long long)pa, (unsigned long long)n);
  return Status::ok();
}

bool AmdIommu::is_protected(uint64_t pa, uint64_t n) {
  if (!enabled_ || n == 0 || pa + (n - 1) < pa) return false;
  if (!(read64(v::mmio::kControl) & v::control::kIommuEn)) return false;
  for (size_t i = 0; i < n_grants_; ++i)
    if (overlaps(pa, n, grants_[i].pa, grants_[i].size)) return false;
  return true;
}

Status AmdIommu::set_page_table_pool(uint64_t pa, uint64_t size) {
  if (pa % kPage || size < kPage || !mem_.map(pa, size))
    return Status::fail(Err::malformed, "AMD-Vi page-table pool [0x%llx, +0x%llx) is unaligned, empty or outside RAM",
                        (unsigned long long)pa, (unsigned long long)size);
  pool_pa_ = pa;
  pool_size_ = size;
  pool_used_ = 0;
  return Status::ok();
}

// A fresh table: every entry not present (PR = 0, §2.2.3).
uint64_t* AmdIommu::alloc_table(uint64_t& pa) {
  if (pool_used_ + kPage > pool_size_) return nullptr;
  pa = pool_pa_ + pool_used_;
  auto* t = reinterpret_cast<uint64_t*>(mem_.map(pa, kPage));
  if (!t) return nullptr;
  pool_used_ += kPage;
  for (uint32_t i = 0; i < v::kEntriesPerTable; ++i) t[i] = 0;
  return t;
}

Status AmdIommu::grant(uint16_t device_id, uint64_t iova, uint64_t pa, uint64_t size, bool read, bool write) {
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
  grants_[n_grants_++] = {pa, size};
  // §2.2.2.1: Mode 4 (a 4-level table), IR/IW let the page tables decide; a domain per device.
  v::Dte g = v::kBlockingDte;
  g.q[0] = (root_pa & v::dte::kRootMask) | (uint64_t(v::kLevels4) << v::dte::kModeShift) |
           v::dte::kIr | v::dte::kIw | v::dte::kTv | v::dte::kV;
  g.q[1] = uint64_t(device_id) + 1;  // DomainID: non-zero, unique per device
  d.q[1] = g.q[1];
  d.q[2] = g.q[2];
  d.q[3] = g.q[3];
  d.q[0] = g.q[0];  // V/TV/Mode last
  const v::Command c[] = {v::cmd::invalidate_dte(device_id), v::cmd::invalidate_domain_pages(static_cast<uint16_t>(g.q[1]))};
  return submit(c, 2);
}

size_t AmdIommu::read_events(v::Event* out, size_t max) {
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

bool AmdIommu::event_overflow() { return read64(v::mmio::kStatus) & v::status::kEventOverflow; }

}  // namespace redoubt::x86
