// Bare-metal implementation of the HAL (QEMU and hardware), by composition:
// the console, TPM, DMA protection and AMD-V objects are passed in, so the
// drivers (platform/x86/drivers/) plug in without touching this class. Until
// are the drivers in platform/x86/drivers.
#pragma once
#include "platform/hal/hal.hpp"

namespace redoubt::x86 {

[[noreturn]] void fatal(const char* why);  // launch_fail(Err::internal, why)

class SerialConsole final : public hal::Console {
 public:
  void write(const char* s, size_t n) override;  // 16550 UART at 0x3F8, polled
};

// Physical memory with the images' identity map (512 GiB, 1 GiB pages): physical = linear.
class IdentityMemory final : public hal::PhysMem {
 public:
  uint8_t* map(uint64_t pa, uint64_t n) override;
};

class BarePlatform final : public hal::Platform {
 public:
  // `svm` may be null (the SL never runs guests): svm() then stops the launch.
  // `vmx` may be null too (the SL); the hypervisor picks whichever the CPU has (CPUID).
  BarePlatform(hal::Console& console, hal::Tpm& tpm, hal::DmaProtection& dma, hal::Svm* svm, hal::Vmx* vmx = nullptr)
      : console_(console), tpm_(tpm), dma_(dma), svm_(svm), vmx_(vmx) {}

  hal::Console& console() override { return console_; }
  hal::Tpm& tpm() override { return tpm_; }
  hal::PhysMem& mem() override { return mem_; }
  hal::DmaProtection& dma() override { return dma_; }
  hal::Svm& svm() override;
  hal::Vmx* vmx() override { return vmx_; }
  // The SL's hand-off (hv_handoff.cpp): never returns on success.
  Status enter_hypervisor(hal::HypervisorHandoff& handoff) override;
  // Stops the launch: LaunchOutcome, then power off (launch_report.hpp).
  [[noreturn]] void halt(const char* why) override;
  // The copy sl_entry.S took (abi/slb_layout.hpp slb_measured_copy_offset); null if it cannot fit.
  const uint8_t* slb_as_measured(uint64_t slb_base, uint64_t length) override;
  // TXT.CMD.SECRETS / NO-SECRETS, checked in TXT.E2STS (arch/intel/txt_secrets.hpp); false where
  // the registers are absent (the read-back does not show the write, e.g. QEMU's unassigned MMIO).
  bool secrets_in_memory(bool present) override;

 private:
  hal::Console& console_;
  hal::Tpm& tpm_;
  hal::DmaProtection& dma_;
  hal::Svm* svm_;
  hal::Vmx* vmx_;
  IdentityMemory mem_;
};

}  // namespace redoubt::x86
