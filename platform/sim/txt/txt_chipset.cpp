#include "platform/sim/txt/txt_chipset.hpp"

namespace redoubt::sim {

namespace at = arch::txt;

uint64_t TxtChipset::read(uint64_t offset) const {
  switch (offset) {
    case at::kSts: return sts_;
    case at::kEsts: return ests_;
    case at::kErrorCode: return errorcode_;
    case at::kSpad: return spad_;
    case at::kDidVid: return (uint64_t{fuses_.device_id} << 16) | fuses_.vendor_id;
    case at::kSinitBase: return sinit_base;
    case at::kSinitSize: return sinit_size;
    case at::kHeapBase: return heap_base;
    case at::kHeapSize: return heap_size;
    default: break;
  }
  // TXT.PUBLIC.KEY: the fused key hash, four 8-byte registers from 0x400 (B.1).
  if (offset >= at::kPublicKey && offset < at::kPublicKey + 32 && (offset & 7) == 0) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | fuses_.acm_key_hash[offset - at::kPublicKey + i];
    return v;
  }
  return 0;
}

void TxtChipset::write(uint64_t offset, uint64_t value, bool private_space) {
  if (!private_space) return;  // B.1: the public space is read-only
  switch (offset) {
    // B.1: SINIT.BASE/SIZE and HEAP.BASE/SIZE are written by BIOS before SENTER and locked after it.
    case at::kSinitBase: if (!senter_done()) sinit_base = value; break;
    case at::kSinitSize: if (!senter_done()) sinit_size = value; break;
    case at::kHeapBase: if (!senter_done()) heap_base = value; break;
    case at::kHeapSize: if (!senter_done()) heap_size = value; break;
    case at::kSpad: spad_ = value; break;
    case at::kErrorCode: errorcode_ = static_cast<uint32_t>(value); break;  // software may write it (B.1)
    default: break;
  }
}

void TxtChipset::shutdown(at::TxtError e) {
  last_error_ = e;
  errorcode_ = static_cast<uint32_t>(e);
  ests_ |= at::ests::kTxtResetSts;
}

void TxtChipset::set_senter_done() {
  sts_ |= at::sts::kSenterDone | at::sts::kLocality2Open;
  sts_ &= ~at::sts::kSexitDone;
}

}  // namespace redoubt::sim
