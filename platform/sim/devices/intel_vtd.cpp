// The simulated VT-d unit's registers (§10.4): global command/status, root
// table pointer, register-based invalidation, fault status and recording, and
// the protected memory regions. Translation and caches: intel_vtd_walk.cpp.
#include "platform/sim/devices/intel_vtd.hpp"

namespace redoubt::sim {

namespace v = arch::vtd;

namespace {
constexpr uint64_t kLo = 0xFFFFFFFFull, kHi = kLo << 32;
}  // namespace

IntelVtd::IntelVtd(PhysicalMemory& mem, IntelVtdConfig cfg)
    : mem_(mem), cfg_(cfg), iva_off_(v::ecap::iro_bytes(cfg.ecap)), frcd_off_(v::cap::fro_bytes(cfg.cap)) {
  reset();
}

void IntelVtd::reset() {
  gsts_ = fedata_ = feaddr_ = feuaddr_ = pmen_ = plmbase_ = plmlimit_ = 0;
  fectl_ = v::fectl::kIm;  // §10.4.10: IM is set at reset
  rtaddr_ = active_root_ = ccmd_ = iva_ = iotlb_reg_ = phmbase_ = phmlimit_ = 0;
  pfo_ = false;
  fri_ = 0;
  frcd_.fill({0, 0});
  ctx_cache_.clear();
  iotlb_.clear();
}

uint32_t IntelVtd::fsts() const {
  // §10.4.9: PPF while any fault recording register has F set; FRI names the oldest of them.
  uint32_t s = pfo_ ? v::fsts::kPfo : 0;
  for (uint32_t k = 0; k < nfr(); ++k) {
    const uint32_t i = (fri_ + k) % nfr();
    if (frcd_[i].hi & v::frcd::kF) return s | v::fsts::kPpf | (i << v::fsts::kFriShift);
  }
  return s;
}

bool IntelVtd::in_pmr(uint64_t pa) const {
  if (!(pmen_ & v::pmen::kEpm)) return false;
  // §10.4.17-§10.4.18: [PLMBASE, PLMLIMIT + granule); a limit below the base disables the region.
  auto in = [pa](uint64_t base, uint64_t limit) { return limit >= base && pa >= base && pa <= limit + (v::kPmrGranularity - 1); };
  return ((cfg_.cap & v::cap::kPlmr) && in(plmbase_, plmlimit_)) || ((cfg_.cap & v::cap::kPhmr) && in(phmbase_, phmlimit_));
}

// One 8-byte slot of the register page, as it reads.
uint64_t IntelVtd::slot_read(uint32_t slot) {
  switch (slot) {
    case v::reg::kVer: return 0x10;  // §10.4.1: architecture version 1.0 (as QEMU's)
    case v::reg::kCap: return cfg_.cap;
    case v::reg::kEcap: return cfg_.ecap;
    case v::reg::kGcmd: return uint64_t{gsts_} << 32;  // GCMD is write-only (reads 0), GSTS at 0x1C
    case v::reg::kRtaddr: return rtaddr_;
    case v::reg::kCcmd: return ccmd_;
    case 0x030: return uint64_t{fsts()} << 32;  // FSTS at 0x34
    case v::reg::kFectl: return fectl_ | (uint64_t{fedata_} << 32);
    case v::reg::kFeaddr: return feaddr_ | (uint64_t{feuaddr_} << 32);
    case 0x060: {  // PMEN at 0x64: EPM as written, PRS its status (§10.4.16)
      const uint32_t p = (pmen_ & v::pmen::kEpm) ? (v::pmen::kEpm | v::pmen::kPrs) : 0;
      return uint64_t{p} << 32;
    }
    case v::reg::kPlmbase: return plmbase_ | (uint64_t{plmlimit_} << 32);
    case v::reg::kPhmbase: return phmbase_;
    case v::reg::kPhmlimit: return phmlimit_;
    default: break;
  }
  if (slot == iva_off_) return iva_;
  if (slot == iva_off_ + 8) return iotlb_reg_;
  if (slot >= frcd_off_ && slot < frcd_off_ + 16 * nfr()) {
    const Entry& e = frcd_[(slot - frcd_off_) / 16];
    return (slot - frcd_off_) % 16 ? e.hi : e.lo;
  }
  return 0;
}

uint64_t IntelVtd::mmio_read(uint64_t offset, unsigned size) {
  if (offset >= kMmioSize || (size != 4 && size != 8) || (offset & (size - 1))) return 0;
  const uint64_t r = slot_read(uint32_t(offset & ~7ull)) >> (8 * (offset & 7));
  return size == 8 ? r : r & kLo;
}

void IntelVtd::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset >= kMmioSize || (size != 4 && size != 8) || (offset & (size - 1))) return;
  const unsigned sh = 8 * unsigned(offset & 4);
  const uint64_t mask = size == 8 ? ~0ull : kLo << sh;
  slot_write(uint32_t(offset & ~7ull), size == 8 ? value : (value & kLo) << sh, mask);
}

void IntelVtd::slot_write(uint32_t slot, uint64_t value, uint64_t mask) {
  auto set = [&](auto& r, uint64_t writable, unsigned shift = 0) {
    const uint64_t m = (mask >> shift) & writable;
    r = decltype(+r)((r & ~m) | ((value >> shift) & m));
  };
  const uint64_t haw_mask = (1ull << v::cap::mgaw(cfg_.cap)) - 1;
  switch (slot) {
    case v::reg::kGcmd:
      if (mask & kLo) gcmd_write(uint32_t(value));
      return;  // GSTS (0x1C) is read-only
    case v::reg::kRtaddr:  // §10.4.6: RTA [HAW-1:12], TTM [11:10]; used at the next SRTP
      set(rtaddr_, (haw_mask & v::rtaddr::kAddrMask) | v::rtaddr::kTtmMask);
      return;
    case v::reg::kCcmd:
      set(ccmd_, ~(v::ccmd::kGranMask << v::ccmd::kCaigShift));
      if ((mask & kHi) && (ccmd_ & v::ccmd::kIcc)) context_invalidate();
      return;
    case 0x030:  // FSTS (0x34): RW1C bits
      if (mask & kHi) {
        const uint32_t w1 = uint32_t(value >> 32) & v::fsts::kRw1c;
        if (w1 & v::fsts::kPfo) pfo_ = false;
      }
      return;
    case v::reg::kFectl:
      set(fectl_, v::fectl::kIm);
      set(fedata_, kLo, 32);
      return;
    case v::reg::kFeaddr:
      set(feaddr_, ~3u);
      set(feuaddr_, kLo, 32);
      return;
    case 0x060:  // PMEN (0x64): EPM; the status follows at once (§10.4.16)
      set(pmen_, v::pmen::kEpm, 32);
      return;
    case v::reg::kPlmbase:  // §10.4.17-18: bits [31:21] of both
      set(plmbase_, v::kPlmMask);
      set(plmlimit_, v::kPlmMask, 32);
      return;
    case v::reg::kPhmbase: set(phmbase_, haw_mask & ~(v::kPmrGranularity - 1)); return;   // §10.4.19
    case v::reg::kPhmlimit: set(phmlimit_, haw_mask & ~(v::kPmrGranularity - 1)); return; // §10.4.20
    default: break;
  }
  if (slot == iva_off_) {
    set(iva_, v::iotlb::kIvaAddrMask | v::iotlb::kIvaIh | v::iotlb::kIvaAmMask);
  } else if (slot == iva_off_ + 8) {
    set(iotlb_reg_, ~(v::iotlb::kGranMask << v::iotlb::kIaigShift));
    if ((mask & kHi) && (iotlb_reg_ & v::iotlb::kIvt)) iotlb_invalidate();
  } else if (slot >= frcd_off_ && slot < frcd_off_ + 16 * nfr() && (slot - frcd_off_) % 16 == 8) {
    // §10.4.14: F (bit 127) is RW1C; everything else in the record is read-only.
    if ((mask & kHi) && (value & v::frcd::kF)) frcd_[(slot - frcd_off_) / 16].hi &= ~v::frcd::kF;
  }
}

// §10.4.4: every write states every command; the status follows synchronously.
void IntelVtd::gcmd_write(uint32_t c) {
  if (c & v::gcmd::kSrtp) {  // latch RTADDR (the caches are not invalidated: §6.5.1 says software must)
    active_root_ = rtaddr_;
    gsts_ |= v::gcmd::kSrtp;
  }
  if (c & v::gcmd::kTe) gsts_ |= v::gcmd::kTe;
  else gsts_ &= ~v::gcmd::kTe;
  // SFL/EAFL (CAP.AFL = 0), WBF (CAP.RWBF = 0), QIE/IRE/SIRTP/CFI (ECAP.QI = IR = 0): unsupported, ignored.
}

// §10.4.7 / §6.5.1.1: context-cache invalidation through CCMD_REG.
void IntelVtd::context_invalidate() {
  const uint64_t gran = (ccmd_ >> v::ccmd::kCirgShift) & v::ccmd::kGranMask;
  const uint16_t did = uint16_t(ccmd_ & v::ccmd::kDidMask);
  const uint16_t sid = uint16_t(ccmd_ >> v::ccmd::kSidShift);
  static constexpr uint16_t kFmMask[4] = {0, 4, 6, 7};  // §10.4.7 FM: function bits ignored
  const uint16_t fm = kFmMask[(ccmd_ >> v::ccmd::kFmShift) & 3];
  ++stats_.context_invalidations;
  for (auto it = ctx_cache_.begin(); it != ctx_cache_.end();) {
    const bool hit = gran == v::ccmd::kGlobal || (gran == v::ccmd::kDomain && v::ctx::did(it->second.hi) == did) ||
                     (gran == v::ccmd::kDevice && (it->first & ~fm) == (sid & ~fm));
    it = hit ? ctx_cache_.erase(it) : std::next(it);
  }
  if (gran == 0) ++stats_.rejected_invalidations;  // 00b is reserved: CAIG 00b reports the rejection
  ccmd_ = (ccmd_ & ~v::ccmd::kIcc & ~(v::ccmd::kGranMask << v::ccmd::kCaigShift)) | (gran << v::ccmd::kCaigShift);
}

// §10.4.8 / §6.5.1.2: IOTLB invalidation through IOTLB_REG (+ IVA_REG for page-selective).
void IntelVtd::iotlb_invalidate() {
  uint64_t gran = (iotlb_reg_ >> v::iotlb::kIirgShift) & v::iotlb::kGranMask;
  const uint16_t did = uint16_t(iotlb_reg_ >> v::iotlb::kDidShift);
  ++stats_.iotlb_invalidations;
  const uint32_t am = uint32_t(iva_ & v::iotlb::kIvaAmMask);
  const uint32_t mamv = uint32_t((cfg_.cap & v::cap::kMamvMask) >> v::cap::kMamvShift);
  if (gran == v::iotlb::kPage && (!(cfg_.cap & v::cap::kPsi) || am > mamv)) gran = 0;  // rejected
  if (gran == v::iotlb::kGlobal) {
    iotlb_.clear();
  } else if (gran == v::iotlb::kDomain) {
    for (auto it = iotlb_.lower_bound({did, 0}); it != iotlb_.end() && it->first.first == did;) it = iotlb_.erase(it);
  } else if (gran == v::iotlb::kPage) {
    // 2^AM pages, naturally aligned (§10.4.8.2).
    const uint64_t first = ((iva_ & v::iotlb::kIvaAddrMask) >> 12) & ~((1ull << am) - 1), last = first + (1ull << am) - 1;
    for (auto it = iotlb_.lower_bound({did, first}); it != iotlb_.end() && it->first.first == did && it->first.second <= last;)
      it = iotlb_.erase(it);
  } else {
    ++stats_.rejected_invalidations;
  }
  iotlb_reg_ = (iotlb_reg_ & ~v::iotlb::kIvt & ~(v::iotlb::kGranMask << v::iotlb::kIaigShift)) | (gran << v::iotlb::kIaigShift);
}

}  // namespace redoubt::sim
