// The simulated VT-d unit's translation of a bus-master request (§3, legacy
// mode): the PMR check, root entry (§9.1) -> context entry (§9.3) ->
// second-level tables (§9.8), the context cache and IOTLB, and primary fault
// recording (§7.2.1, reasons from Appendix A). Registers: intel_vtd.cpp.
#include <algorithm>
#include <cstring>

#include "platform/sim/devices/intel_vtd.hpp"

namespace redoubt::sim {

namespace v = arch::vtd;

namespace {
bool read_entry(PhysicalMemory& mem, uint64_t pa, void* out, size_t n) {
  const uint8_t* p = mem.map(pa, n);
  if (!p) return false;
  std::memcpy(out, p, n);
  return true;
}
}  // namespace

std::optional<uint64_t> IntelVtd::translate(uint16_t sid, uint64_t addr, bool write) {
  ++stats_.translations;
  uint64_t pa = addr;
  if (gsts_ & v::gcmd::kTe) {
    Entry ce;
    if (!context_for(sid, addr, write, ce)) return std::nullopt;
    if (v::ctx::tt(ce.lo) != v::ctx::kTtPassThrough) {
      const std::optional<uint64_t> t = walk(sid, ce, addr, write);
      if (!t) return std::nullopt;
      pa = *t;
    }
  }
  // §10.4.16: with TES = 0 and for pass-through every request to a PMR is blocked; for remapped
  // requests hardware may block or not, and this model blocks. No fault is recorded (Appendix A
  // has no reason for it): the request is simply aborted.
  if (in_pmr(pa)) {
    ++stats_.pmr_blocked;
    return std::nullopt;
  }
  return pa;
}

void IntelVtd::fault(uint16_t sid, uint64_t addr, bool write, uint8_t reason, bool fpd) {
  ++stats_.faults;
  if (fpd) {  // §9.3: FPD = 1: the fault is not recorded
    ++stats_.faults_suppressed;
    return;
  }
  // §7.2.1: the record at FRI still holds a fault software has not read: PFO, the fault is lost.
  Entry& r = frcd_[fri_];
  if (r.hi & v::frcd::kF) {
    pfo_ = true;
    ++stats_.faults_lost;
    return;
  }
  r.lo = addr & v::frcd::kFiMask;
  r.hi = sid | (uint64_t{reason} << v::frcd::kFrShift) | (write ? 0 : v::frcd::kType) | v::frcd::kF;
  fri_ = (fri_ + 1) % nfr();
  ++stats_.faults_recorded;
}

bool IntelVtd::context_for(uint16_t sid, uint64_t addr, bool write, Entry& ce) {
  if (auto it = ctx_cache_.find(sid); it != ctx_cache_.end()) {
    ++stats_.context_cache_hits;
    ce = it->second;
    return true;
  }
  // Only legacy mode exists here (ECAP.SMTS = 0): another TTM has no root entry format.
  if ((active_root_ & v::rtaddr::kTtmMask) != v::rtaddr::kTtmLegacy) {
    fault(sid, addr, write, v::kFrRootReserved);
    return false;
  }
  Entry re;
  if (!read_entry(mem_, (active_root_ & v::rtaddr::kAddrMask) + v::kEntryBytes * v::sid_bus(sid), &re, sizeof re)) {
    fault(sid, addr, write, v::kFrRootAccess);
    return false;
  }
  if (!(re.lo & v::root::kP)) {  // Appendix A 1h
    fault(sid, addr, write, v::kFrRootNotPresent);
    return false;
  }
  if ((re.lo & v::root::kReservedLo) || (re.hi & v::root::kReservedHi)) {  // Ah
    fault(sid, addr, write, v::kFrRootReserved);
    return false;
  }
  if (!read_entry(mem_, (re.lo & v::root::kCtpMask) + v::kEntryBytes * v::sid_devfn(sid), &ce, sizeof ce)) {
    fault(sid, addr, write, v::kFrContextAccess);
    return false;
  }
  if (!(ce.lo & v::ctx::kP)) {  // 2h (CAP.CM = 0: a not-present entry is never cached)
    fault(sid, addr, write, v::kFrContextNotPresent);
    return false;
  }
  const bool fpd = ce.lo & v::ctx::kFpd;
  if ((ce.lo & v::ctx::kReservedLo) || (ce.hi & v::ctx::kReservedHi)) {  // Bh
    fault(sid, addr, write, v::kFrContextReserved, fpd);
    return false;
  }
  const uint32_t tt = v::ctx::tt(ce.lo);
  const uint64_t aw = ce.hi & v::ctx::kAwMask;
  const bool aw_ok = aw < 5 && (cfg_.cap & (1ull << (v::cap::kSagawShift + aw))) && aw != v::ctx::kAw57;
  // 3h: TT reserved, pass-through without ECAP.PT, or an AW SAGAW does not list (5-level: not modelled).
  if (tt == v::ctx::kTtReserved || (tt == v::ctx::kTtPassThrough && !(cfg_.ecap & v::ecap::kPt)) ||
      (tt != v::ctx::kTtPassThrough && !aw_ok)) {
    fault(sid, addr, write, v::kFrContextInvalid, fpd);
    return false;
  }
  ctx_cache_[sid] = ce;
  return true;
}

std::optional<uint64_t> IntelVtd::walk(uint16_t sid, const Entry& ce, uint64_t addr, bool write) {
  const bool fpd = ce.lo & v::ctx::kFpd;
  const uint16_t did = v::ctx::did(ce.hi);
  const uint64_t aw = ce.hi & v::ctx::kAwMask;
  const uint32_t haw = v::cap::mgaw(cfg_.cap);
  const uint32_t bits = std::min(v::ctx::agaw_bits(aw), haw);
  const uint8_t denied = write ? v::kFrWriteDenied : v::kFrReadDenied;
  if (bits < 64 && (addr >> bits) != 0) {  // 4h
    fault(sid, addr, write, v::kFrAddressBeyondAgaw, fpd);
    return std::nullopt;
  }
  if (auto it = iotlb_.find({did, addr >> 12}); it != iotlb_.end()) {
    ++stats_.iotlb_hits;
    if (!(write ? it->second.w : it->second.r)) {
      fault(sid, addr, write, denied, fpd);
      return std::nullopt;
    }
    return it->second.pa_page | (addr & 0xFFF);
  }
  ++stats_.walks;
  uint64_t table = ce.lo & v::ctx::kSlptMask & v::sl::kAddrMask;
  bool r = true, w = true;
  for (uint32_t level = v::ctx::levels(aw); level >= 1; --level) {
    uint64_t e;
    if (!read_entry(mem_, table + 8ull * v::sl_index(addr, level), &e, 8)) {  // 7h
      fault(sid, addr, write, v::kFrSlEntryAccess, fpd);
      return std::nullopt;
    }
    if (!(e & (v::sl::kR | v::sl::kW))) {  // §9.8: R = W = 0: not present, reported as 5h / 6h
      fault(sid, addr, write, denied, fpd);
      return std::nullopt;
    }
    const bool ps = level > 1 && (e & v::sl::kPs);
    const bool ps_ok = (level == 2 && (cfg_.cap & v::cap::kSllps2M)) || (level == 3 && (cfg_.cap & v::cap::kSllps1G));
    const bool leaf = level == 1 || ps;
    uint64_t reserved = v::sl::reserved_above(haw) | ((cfg_.ecap & v::ecap::kSc) ? 0 : v::sl::kSnp);
    if (ps) reserved |= v::sl::large_page_reserved(v::sl_shift(level));
    if ((e & reserved) || (ps && !ps_ok)) {  // Ch
      fault(sid, addr, write, v::kFrSlReserved, fpd);
      return std::nullopt;
    }
    r = r && (e & v::sl::kR);  // §9.8: access rights are ANDed down the walk
    w = w && (e & v::sl::kW);
    if (leaf) {
      const uint64_t size_mask = (1ull << v::sl_shift(level)) - 1;
      const uint64_t pa = ((e & v::sl::kAddrMask) & ~size_mask) | (addr & size_mask);
      if (!(write ? w : r)) {
        fault(sid, addr, write, denied, fpd);
        return std::nullopt;
      }
      if (iotlb_.size() >= cfg_.iotlb_capacity) {
        iotlb_.clear();
        ++stats_.iotlb_flushes_full;
      }
      iotlb_[{did, addr >> 12}] = {pa & ~0xFFFull, r, w};
      return pa;
    }
    table = e & v::sl::kAddrMask;
  }
  return std::nullopt;
}

}  // namespace redoubt::sim
