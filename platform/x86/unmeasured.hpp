// hv.bin's UNMEASURED test mode (abi/bare_hv_entry.hpp kBareFlagUnmeasured; docs/intel.md
// "Bochs"): the stand-ins for the TPM and the DMA protection on an emulator that has neither
// (Bochs 2.7). Reachable only through the boot stub's test hand-off: the SL never sets the flag
// and a test image cannot (the flag is outside kBareFlagHvTestMask). Nothing here measures or
// protects; both say so by what they return and count.
#pragma once
#include <cstdint>

#include "platform/hal/hal.hpp"

namespace redoubt::x86 {

// No TPM: no PCR is extended (each extend the hypervisor asks for is counted, not made), and
// no NV counter exists (not_found: the guest admission then has no SVN floor).
class UnmeasuredTpm final : public hal::Tpm {
 public:
  explicit UnmeasuredTpm(const BankList& banks) : banks_(banks) {}
  Status active_banks(BankList& out) override {
    out = banks_;
    return Status::ok();
  }
  Status pcr_extend(uint8_t, uint32_t, const DigestList&) override {
    ++extends_not_made_;
    return Status::ok();
  }
  Status nv_read_counter(uint8_t, uint32_t nv_index, uint64_t&) override {
    return Status::fail(Err::not_found, "UNMEASURED: no TPM, NV index 0x%08x does not exist", nv_index);
  }
  uint64_t extends_not_made() const { return extends_not_made_; }

 private:
  BankList banks_;
  uint64_t extends_not_made_ = 0;
};

// No IOMMU and no DEV: nothing is protected, and every range is taken as DMA-safe because the
// emulator's machine has no device that masters the bus (docs/intel.md "Bochs").
class UnprotectedDma final : public hal::DmaProtection {
 public:
  Status protect(uint64_t, uint64_t) override { return Status::ok(); }
  bool is_protected(uint64_t, uint64_t) override { return true; }
};

}  // namespace redoubt::x86
