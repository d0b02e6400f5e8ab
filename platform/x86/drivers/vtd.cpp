#include "platform/x86/drivers/vtd.hpp"

#include "abi/dma_engine.hpp"
#include "arch/qemu/edu.hpp"
#include "arch/x86/pci.hpp"

namespace redoubt::x86 {

namespace v = arch::vtd;

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint32_t kSpins = 50'000'000;       // register handshake poll bound
constexpr uint64_t kIovaLimit = 1ull << 48;   // 4 levels: 48-bit I/O virtual addresses (§9.8)
constexpr uint32_t kLevels = 4;

bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return a < b + bn && b < a + an; }
}  // namespace

// §10.2: a 64-bit register may be accessed as two dwords, lower first.
uint64_t VtdHw::read64(uint32_t off) { return regs().read32(off) | (uint64_t(regs().read32(off + 4)) << 32); }
void VtdHw::write64(uint32_t off, uint64_t val) {
  regs().write32(off, uint32_t(val));
  regs().write32(off + 4, uint32_t(val >> 32));
}

Status VtdHw::probe() {
  const uint32_t ver = regs().read32(v::reg::kVer);
  cap_ = read64(v::reg::kCap);
  ecap_ = read64(v::reg::kEcap);
  if (ver == 0 || ver == ~0u || cap_ == 0 || cap_ == ~0ull)
    return Status::fail(Err::not_found, "VT-d: no remapping unit at 0x%llx (VER 0x%x)", (unsigned long long)base_, ver);
  iotlb_off_ = v::ecap::iro_bytes(ecap_) + 8;
  frcd_off_ = v::cap::fro_bytes(cap_);
  nfr_ = v::cap::nfr(cap_);
  if (!(cap_ & v::cap::kSagaw48) || v::cap::mgaw(cap_) < 39 || iotlb_off_ + 8 > v::kMmioSize ||
      frcd_off_ < 0x80 || frcd_off_ + 16ull * nfr_ > v::kMmioSize || !(cap_ & v::cap::kPlmr))
    return Status::fail(Err::unsupported, "VT-d: CAP 0x%llx ECAP 0x%llx: no 4-level tables, no PMR or registers outside the page",
                        (unsigned long long)cap_, (unsigned long long)ecap_);
  return Status::ok();
}

Status VtdHw::set_pmrs(uint64_t low_base, uint64_t low_size, uint64_t high_base, uint64_t high_size) {
  if (cap_ == 0) REDOUBT_TRY(probe());
  const uint64_t g = v::kPmrGranularity;
  if (low_base % g || low_size % g || high_base % g || high_size % g || low_base + low_size > (1ull << 32) ||
      (high_size && !(cap_ & v::cap::kPhmr)))
    return Status::fail(Err::malformed, "VT-d PMRs [0x%llx, +0x%llx) [0x%llx, +0x%llx): not 2 MiB granular or unsupported",
                        (unsigned long long)low_base, (unsigned long long)low_size, (unsigned long long)high_base,
                        (unsigned long long)high_size);
  // §10.4.17-§10.4.20: a limit below the base disables a region; the limit names the last granule.
  regs().write32(v::reg::kPlmbase, low_size ? uint32_t(low_base) : v::kPlmMask);
  regs().write32(v::reg::kPlmlimit, low_size ? uint32_t(low_base + low_size - g) : 0);
  if (cap_ & v::cap::kPhmr) {
    write64(v::reg::kPhmbase, high_size ? high_base : ~(g - 1) & ((1ull << v::cap::mgaw(cap_)) - 1));
    write64(v::reg::kPhmlimit, high_size ? high_base + high_size - g : 0);
  }
  regs().write32(v::reg::kPmen, v::pmen::kEpm);
  for (uint32_t i = 0; i < kSpins; ++i)
    if (regs().read32(v::reg::kPmen) & v::pmen::kPrs) return Status::ok();
  return Status::fail(Err::fault, "VT-d: PMEN.PRS did not set");
}

bool VtdHw::pmr_covers(uint64_t pa, uint64_t n) {
  if (n == 0 || pa + (n - 1) < pa || !(regs().read32(v::reg::kPmen) & v::pmen::kPrs)) return false;
  const uint64_t last = pa + (n - 1), g = v::kPmrGranularity;
  const uint64_t lb = regs().read32(v::reg::kPlmbase), ll = regs().read32(v::reg::kPlmlimit);
  if (ll >= lb && pa >= lb && last <= ll + (g - 1)) return true;
  if (!(cap_ & v::cap::kPhmr)) return false;
  const uint64_t hb = read64(v::reg::kPhmbase), hl = read64(v::reg::kPhmlimit);
  return hl >= hb && pa >= hb && last <= hl + (g - 1);
}

Status VtdHw::gcmd(uint32_t bit, bool on) {
  // §10.4.4: write the persistent commands as GSTS reports them, with the one changed.
  const uint32_t sts = regs().read32(v::reg::kGsts) & v::gcmd::kPersistent;
  regs().write32(v::reg::kGcmd, on ? (sts | bit) : (sts & ~bit));
  for (uint32_t i = 0; i < kSpins; ++i)
    if (bool(regs().read32(v::reg::kGsts) & bit) == on) return Status::ok();
  return Status::fail(Err::fault, "VT-d: GSTS did not follow GCMD bit 0x%x", bit);
}

Status VtdHw::context_invalidate(uint64_t ccmd) {
  write64(v::reg::kCcmd, ccmd);
  for (uint32_t i = 0; i < kSpins; ++i) {
    const uint64_t r = read64(v::reg::kCcmd);
    if (!(r & v::ccmd::kIcc)) {  // §10.4.7: CAIG 00b = the request was rejected
      if (((r >> v::ccmd::kCaigShift) & v::ccmd::kGranMask) == 0)
        return Status::fail(Err::fault, "VT-d: context-cache invalidation 0x%llx rejected", (unsigned long long)ccmd);
      return Status::ok();
    }
  }
  return Status::fail(Err::fault, "VT-d: context-cache invalidation did not complete");
}

Status VtdHw::iotlb_invalidate(uint64_t iotlb, uint64_t iva) {
  if (iva) write64(iotlb_off_ - 8, iva);
  write64(iotlb_off_, iotlb | v::iotlb::kDr | v::iotlb::kDw);
  for (uint32_t i = 0; i < kSpins; ++i) {
    const uint64_t r = read64(iotlb_off_);
    if (!(r & v::iotlb::kIvt)) {  // §10.4.8.1: IAIG 00b = rejected
      if (((r >> v::iotlb::kIaigShift) & v::iotlb::kGranMask) == 0)
        return Status::fail(Err::fault, "VT-d: IOTLB invalidation 0x%llx rejected", (unsigned long long)iotlb);
      return Status::ok();
    }
  }
  return Status::fail(Err::fault, "VT-d: IOTLB invalidation did not complete");
}

Status VtdHw::invalidate_all() {
  REDOUBT_TRY(context_invalidate(v::ccmd::global()));
  return iotlb_invalidate(v::iotlb::global());
}

Status VtdHw::enable(uint64_t root_pa, const PhysRange* hv, size_t n_hv, uint32_t flags) {
  REDOUBT_TRY(probe());
  uint64_t* root = root_pa % kPage ? nullptr : table_at(root_pa);
  if (!root) return Status::fail(Err::malformed, "VT-d root table at 0x%llx: unaligned or outside RAM", (unsigned long long)root_pa);
  if (pool_size_ && overlaps(root_pa, kPage, pool_pa_, pool_size_))
    return Status::fail(Err::malformed, "VT-d root table at 0x%llx lies in the page-table pool", (unsigned long long)root_pa);
  // 1. Until translation is on the PMRs are the only protection: everything that must not be
  //    reached by DMA, the tables included, must be inside them already (SINIT put them there).
  if (!pmr_covers(root_pa, kPage) || (pool_size_ && !pmr_covers(pool_pa_, pool_size_)))
    return Status::fail(Err::fault, "VT-d: the root table / page-table pool is outside the PMRs");
  for (size_t k = 0; k < n_hv; ++k)
    if (!pmr_covers(hv[k].pa, hv[k].size))
      return Status::fail(Err::fault, "VT-d: [0x%llx, +0x%llx) is not inside the PMRs: DMA could reach it before translation",
                          (unsigned long long)hv[k].pa, (unsigned long long)hv[k].size);
  if (flags & kTestPmrOffFirst) regs().write32(v::reg::kPmen, 0);  // TEST ONLY: the window

  // 2. A root table with no present entry: every requester is blocked (Appendix A 1h).
  for (uint32_t i = 0; i < 2 * v::kEntriesPerTable; ++i) root[i] = 0;
  root_pa_ = root_pa;

  // 3. Translation off while the root changes (if an earlier owner left it on), root pointer
  //    latched (§10.4.6, legacy TTM), then the caches an earlier owner filled are emptied
  //    (§6.5: SRTP does not invalidate them), and only then translation on.
  if (regs().read32(v::reg::kGsts) & v::gcmd::kTe) REDOUBT_TRY(gcmd(v::gcmd::kTe, false));
  write64(v::reg::kRtaddr, root_pa | v::rtaddr::kTtmLegacy);
  REDOUBT_TRY(gcmd(v::gcmd::kSrtp, true));
  REDOUBT_TRY(invalidate_all());
  REDOUBT_TRY(gcmd(v::gcmd::kTe, true));
  if (read64(v::reg::kRtaddr) != root_pa)
    return Status::fail(Err::fault, "VT-d: RTADDR reads 0x%llx", (unsigned long long)read64(v::reg::kRtaddr));

  // 4. The root table protected itself from the moment it was written (PMR), now by
  //    translation: any entry set means the PMRs did not cover it.
  for (uint32_t i = 0; i < 2 * v::kEntriesPerTable; ++i)
    if (root[i]) return Status::fail(Err::fault, "VT-d: root entry %u was changed by DMA", i / 2);
  enabled_ = true;

  // 5. Translation blocks everything: the PMRs can go (no window: both were on in between).
  if (!(flags & (kKeepPmr | kTestPmrOffFirst))) {
    regs().write32(v::reg::kPmen, 0);
    for (uint32_t i = 0; regs().read32(v::reg::kPmen) & v::pmen::kPrs; ++i)
      if (i == kSpins) return Status::fail(Err::fault, "VT-d: PMEN.PRS did not clear");
  }
  return Status::ok();
}

Status VtdHw::set_page_table_pool(uint64_t pa, uint64_t size) {
  if (pool_used_) return Status::fail(Err::internal, "VT-d: %llu bytes of tables live in the current pool", (unsigned long long)pool_used_);
  if (pa % kPage || size < kPage || size % kPage || !mem_.map(pa, size))
    return Status::fail(Err::malformed, "VT-d page-table pool [0x%llx, +0x%llx) is unaligned, empty or outside RAM",
                        (unsigned long long)pa, (unsigned long long)size);
  pool_pa_ = pa;
  pool_size_ = size;
  pool_used_ = 0;
  return Status::ok();
}

// A fresh table: every entry not present (R = W = 0, §9.8; P = 0, §9.3).
uint64_t* VtdHw::alloc_table(uint64_t& pa) {
  if (pool_used_ + kPage > pool_size_) return nullptr;
  pa = pool_pa_ + pool_used_;
  uint64_t* t = table_at(pa);
  if (!t) return nullptr;
  pool_used_ += kPage;
  for (uint32_t i = 0; i < v::kSlEntries; ++i) t[i] = 0;
  return t;
}

// The context entry of `sid` (§9.1: the root entry of its bus names the context table).
v::Entry128* VtdHw::context_entry(uint16_t sid, bool create) {
  auto* root = reinterpret_cast<v::Entry128*>(table_at(root_pa_));
  v::Entry128& re = root[v::sid_bus(sid)];
  if (!(re.lo & v::root::kP)) {
    uint64_t ct = 0;
    if (!create || !alloc_table(ct)) return nullptr;
    re.hi = 0;
    re.lo = ct | v::root::kP;  // every context entry of the new table not present
  }
  auto* ctx = reinterpret_cast<v::Entry128*>(table_at(re.lo & v::root::kCtpMask));
  return ctx ? &ctx[v::sid_devfn(sid)] : nullptr;
}

Status VtdHw::grant(uint16_t sid, uint64_t iova, uint64_t pa, uint64_t size, bool read, bool write, uint16_t did) {
  if (!enabled_) return Status::fail(Err::internal, "VT-d grant before translation is enabled");
  if (iova % kPage || pa % kPage || size == 0 || size % kPage || iova + size > kIovaLimit || iova + size < iova || pa + size < pa)
    return Status::fail(Err::malformed, "VT-d grant: iova 0x%llx pa 0x%llx size 0x%llx is not page granular or beyond 48 bits",
                        (unsigned long long)iova, (unsigned long long)pa, (unsigned long long)size);
  if (n_grants_ == kMaxGrants) return Status::fail(Err::unsupported, "VT-d grant: more than %u grants", unsigned(kMaxGrants));
  if (overlaps(pa, size, root_pa_, kPage) || overlaps(pa, size, pool_pa_, pool_size_))
    return Status::fail(Err::malformed, "VT-d grant: [0x%llx, +0x%llx) covers the unit's own tables", (unsigned long long)pa,
                        (unsigned long long)size);
  const uint32_t domains = 1u << (4 + 2 * uint32_t(cap_ & v::cap::kNdMask));  // §10.4.2 ND
  v::Entry128* ce = context_entry(sid, true);
  if (!ce) return Status::fail(Err::unsupported, "VT-d grant: the page-table pool is exhausted");
  const bool fresh = !(ce->lo & v::ctx::kP);
  if (!fresh) did = v::ctx::did(ce->hi);
  else if (did == 0) did = next_did_++;
  if (did == 0 || did >= domains) return Status::fail(Err::unsupported, "VT-d grant: domain %u beyond the %u the unit has", did, domains);
  uint64_t root_pa = ce->lo & v::ctx::kSlptMask;
  uint64_t* top = fresh ? alloc_table(root_pa) : table_at(root_pa);
  if (!top) return Status::fail(Err::unsupported, "VT-d grant: the page-table pool is exhausted");
  const uint64_t perm = (read ? v::sl::kR : 0) | (write ? v::sl::kW : 0);
  for (uint64_t off = 0; off < size; off += kPage) {
    uint64_t* t = top;
    for (uint32_t level = kLevels; level > 1; --level) {
      uint64_t& e = t[v::sl_index(iova + off, level)];
      if (!(e & (v::sl::kR | v::sl::kW))) {
        uint64_t next = 0;
        if (!alloc_table(next)) return Status::fail(Err::unsupported, "VT-d grant: the page-table pool is exhausted");
        e = next | v::sl::kR | v::sl::kW;  // §9.8: non-leaf rights AND down the walk; the leaf decides
      }
      t = table_at(e & v::sl::kAddrMask);
      if (!t) return Status::fail(Err::fault, "VT-d grant: a table at 0x%llx is outside RAM", (unsigned long long)(e & v::sl::kAddrMask));
    }
    uint64_t& leaf = t[v::sl_index(iova + off, 1)];
    leaf = (pa + off) | perm;
  }
  grants_[n_grants_++] = {sid, pa, size};
  if (fresh) {  // §9.3: DID and AW first, then P with the table pointer (TT 00b: translate)
    ce->hi = v::ctx::kAw48 | (uint64_t{did} << v::ctx::kDidShift);
    ce->lo = root_pa | (v::ctx::kTtUntranslated << v::ctx::kTtShift) | v::ctx::kP;
  }
  // §6.5: a not-present entry is not cached (CAP.CM = 0), but a remapped page may be: both, always.
  REDOUBT_TRY(context_invalidate(v::ccmd::device(sid, did)));
  return iotlb_invalidate(v::iotlb::domain(did));
}

Status VtdHw::unmap(uint16_t sid, uint64_t iova, uint64_t size) {
  v::Entry128* ce = enabled_ ? context_entry(sid, false) : nullptr;
  if (!ce || !(ce->lo & v::ctx::kP)) return Status::fail(Err::internal, "VT-d unmap: %04x has no domain", sid);
  const uint16_t did = v::ctx::did(ce->hi);
  for (uint64_t off = 0; off < size; off += kPage) {
    uint64_t* t = table_at(ce->lo & v::ctx::kSlptMask);
    for (uint32_t level = kLevels; level > 1 && t; --level) {
      const uint64_t e = t[v::sl_index(iova + off, level)];
      t = (e & (v::sl::kR | v::sl::kW)) ? table_at(e & v::sl::kAddrMask) : nullptr;
    }
    if (!t) continue;
    t[v::sl_index(iova + off, 1)] = 0;
    // §6.5.1.2 / §10.4.8.2: one page (AM = 0), IH = 0; without PSI the whole domain.
    REDOUBT_TRY((cap_ & v::cap::kPsi) ? iotlb_invalidate(v::iotlb::page(did), (iova + off) & v::iotlb::kIvaAddrMask)
                                      : iotlb_invalidate(v::iotlb::domain(did)));
  }
  return Status::ok();
}

void VtdHw::zero_tables(uint64_t pa, uint32_t level) {
  uint64_t* t = table_at(pa);
  if (!t || !overlaps(pa, kPage, pool_pa_, pool_size_)) return;  // only tables this driver built
  for (uint32_t i = 0; i < v::kSlEntries; ++i) {
    if (level > 1 && (t[i] & (v::sl::kR | v::sl::kW))) zero_tables(t[i] & v::sl::kAddrMask, level - 1);
    t[i] = 0;
  }
}

Status VtdHw::revoke(uint16_t sid, bool invalidate) {
  v::Entry128* ce = enabled_ ? context_entry(sid, false) : nullptr;
  if (!ce || !(ce->lo & v::ctx::kP)) return Status::fail(Err::internal, "VT-d revoke: %04x has no domain", sid);
  const uint16_t did = v::ctx::did(ce->hi);
  const uint64_t slpt = ce->lo & v::ctx::kSlptMask;
  ce->lo = 0;  // P first: the device is blocked before anything else changes
  ce->hi = 0;
  size_t k = 0;
  for (size_t i = 0; i < n_grants_; ++i)
    if (grants_[i].sid != sid) grants_[k++] = grants_[i];
  n_grants_ = k;
  if (!invalidate) return Status::ok();  // TEST ONLY: the cached context entry and IOTLB stay
  REDOUBT_TRY(context_invalidate(v::ccmd::device(sid, did)));
  REDOUBT_TRY(iotlb_invalidate(v::iotlb::domain(did)));
  zero_tables(slpt, kLevels);  // only now that no walk can use them
  return Status::ok();
}

size_t VtdHw::read_faults(VtdFault* out, size_t max) {
  if (nfr_ == 0) return 0;
  const uint32_t fsts = regs().read32(v::reg::kFsts);
  if (!(fsts & v::fsts::kPpf)) return 0;
  uint32_t i = (fsts >> v::fsts::kFriShift) & 0xFF;
  size_t n = 0;
  for (uint32_t k = 0; k < nfr_ && n < max; ++k, i = (i + 1) % nfr_) {
    const uint32_t at = frcd_off_ + 16 * i;
    const uint64_t hi = read64(at + 8);
    if (!(hi & v::frcd::kF)) break;
    out[n++] = {v::frcd::sid(hi), v::frcd::reason(hi), !v::frcd::is_read(hi), read64(at) & v::frcd::kFiMask};
    regs().write32(at + 12, uint32_t(v::frcd::kF >> 32));  // §10.4.14: F is RW1C
  }
  return n;
}

Status VtdHw::engine_bar(uint16_t sid, uint64_t& bar_pa, uint64_t& bar_size) {
  namespace e = abi::dma_engine;
  namespace pci = arch::pci;
  if (!io_) return Status::fail(Err::unsupported, "VT-d: no PCI configuration access for assignment");
  auto cfg = [&](uint32_t reg) {  // bus:dev.fn at [23:8] of CONFIG_ADDRESS
    io_->out32(pci::kConfigAddress, pci::kEnable | (uint32_t(sid) << 8) | (reg & 0xFC));
    return io_->in32(pci::kConfigData);
  };
  const uint32_t id = cfg(pci::kVendorId);
  const bool engine = (id & 0xFFFF) == e::kVendorId && (id >> 16) == e::kDeviceId;
  const bool edu = (id & 0xFFFF) == arch::edu::kVendorId && (id >> 16) == arch::edu::kDeviceId;
  const uint32_t cmd = cfg(pci::kCommand), bar = cfg(e::kBar0);
  bar_pa = bar & ~uint32_t(0xF);
  bar_size = edu ? arch::edu::kBarSize : e::kBarSize;
  // PCI 3.0 §6.2.5.1: bit 0 memory, bits 2:1 = 00b (32-bit); §6.2.2: Memory Space on.
  if ((!engine && !edu) || !(cmd & e::kCmdMemory) || (bar & 0x7) || bar_pa == 0 || bar_pa % bar_size)
    return Status::fail(Err::unsupported, "device %02x:%02x.%x (id 0x%08x, BAR0 0x%08x) is not an assignable DMA engine",
                        sid >> 8, (sid >> 3) & 31, sid & 7, id, bar);
  if (edu && !(cmd & e::kCmdBusMaster)) {  // QEMU's edu does DMA only with Bus Master on
    io_->out32(pci::kConfigAddress, pci::kEnable | (uint32_t(sid) << 8) | pci::kCommand);
    io_->out32(pci::kConfigData, (cmd & 0xFFFF) | e::kCmdBusMaster);
  }
  return Status::ok();
}

bool VtdHw::fault_overflow() { return regs().read32(v::reg::kFsts) & v::fsts::kPfo; }
void VtdHw::clear_overflow() { regs().write32(v::reg::kFsts, v::fsts::kPfo); }

bool VtdHw::covered(uint64_t pa, uint64_t n) {
  if (n == 0 || pa + (n - 1) < pa) return false;
  if (enabled_ && (regs().read32(v::reg::kGsts) & v::gcmd::kTe)) {
    bool granted = false;
    for (size_t i = 0; i < n_grants_; ++i) granted |= overlaps(pa, n, grants_[i].pa, grants_[i].size);
    if (!granted) return true;
  }
  return pmr_covers(pa, n);
}

}  // namespace redoubt::x86
