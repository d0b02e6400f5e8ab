// hal::Tpm over the TPM FIFO interface: the secure loader's and hypervisor's
// TPM on QEMU, hardware and the simulator executing the measured images.
// Commands are marshalled by hand (tpm2_commands) and sent through TisDriver.
// Freestanding; one 4 KiB command and one 4 KiB response buffer, no allocation.
#pragma once
#include <cstdint>

#include "arch/tpm/tpm2.hpp"
#include "platform/hal/hal.hpp"
#include "platform/x86/drivers/tpm_tis.hpp"

namespace redoubt::x86 {

class TisTpm final : public hal::Tpm {
 public:
  explicit TisTpm(TisDriver& tis) : tis_(tis) {}

  // TPM2_GetCapability(TPM_CAP_PCRS) at locality 0: banks with any PCR allocated.
  Status active_banks(BankList& out) override;
  // TPM2_PCR_Extend with TPM_RS_PW (empty auth) and one digest per entry of `digests`.
  Status pcr_extend(uint8_t locality, uint32_t pcr, const DigestList& digests) override;
  // TPM2_NV_ReadPublic (must be a written TPM_NT_COUNTER of 8 bytes), then TPM2_NV_Read
  // authorized by the index's own empty authValue (TPMA_NV_AUTHREAD). Undefined or
  // never-incremented: Err::not_found naming the index.
  Status nv_read_counter(uint8_t locality, uint32_t nv_index, uint64_t& value) override;

 private:
  Status run(uint8_t locality, size_t cmd_len);

  TisDriver& tis_;
  uint8_t cmd_[arch::tpm2::kMaxCommandSize] = {};
  uint8_t resp_[arch::tpm2::kMaxCommandSize] = {};
  size_t resp_len_ = 0;
};

}  // namespace redoubt::x86
