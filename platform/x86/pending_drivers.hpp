// Stand-ins for the device drivers another change brings (TIS TPM, AMD DEV,
// LAPIC timer: platform/x86/drivers/). Each one stops the launch saying what
// is missing — never a silent no-op — through launch_fail (Err::not_implemented):
// the SL reports launch_refused, the hypervisor hv_failed.
#pragma once
#include "platform/hal/hal.hpp"
#include "platform/x86/host_timer.hpp"

namespace redoubt::x86 {

class PendingTisTpm final : public hal::Tpm {
 public:
  Status active_banks(BankList& out) override;
  Status pcr_extend(uint8_t locality, uint32_t pcr, const DigestList& digests) override;
  Status nv_read_counter(uint8_t locality, uint32_t nv_index, uint64_t& value) override;
};

class PendingDevProtection final : public hal::DmaProtection {
 public:
  Status protect(uint64_t pa, uint64_t n) override;
  bool is_protected(uint64_t pa, uint64_t n) override;
};

class PendingLapicTimer final : public HostTimer {
 public:
  void arm(uint64_t deadline_tsc, uint8_t vector) override;
  void eoi() override;
};

}  // namespace redoubt::x86
