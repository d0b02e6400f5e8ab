// Bare-metal implementation of the HAL (QEMU and hardware). Partial until the
// QEMU issue: the serial console and physical memory work; everything that is
// not built yet halts with a message saying so — never a silent no-op.
#pragma once
#include "platform/hal/hal.hpp"

namespace redoubt::x86 {

[[noreturn]] void fatal(const char* why);

class SerialConsole final : public hal::Console {
 public:
  void write(const char* s, size_t n) override;  // 16550 UART at 0x3F8
};

class BarePlatform final : public hal::Platform, hal::Tpm, hal::PhysMem, hal::DmaProtection, hal::Svm {
 public:
  hal::Console& console() override { return serial_; }
  hal::Tpm& tpm() override { return *this; }
  hal::PhysMem& mem() override { return *this; }
  hal::DmaProtection& dma() override { return *this; }
  hal::Svm& svm() override { return *this; }
  Status enter_hypervisor(hal::HypervisorHandoff& handoff) override;
  [[noreturn]] void halt(const char* why) override;

  // hal::Tpm: TPM TIS at locality 2 (TCG PC Client PTP §6) — not yet.
  Status active_banks(BankList& out) override;
  Status pcr_extend(uint8_t locality, uint32_t pcr, const DigestList& digests) override;
  Status nv_read_counter(uint8_t locality, uint32_t nv_index, uint64_t& value) override;
  // hal::PhysMem: paging is off after SKINIT, so physical = linear (below 4 GiB).
  uint8_t* map(uint64_t pa, uint64_t n) override;
  // hal::DmaProtection: AMD DEV programming (APM vol. 2 §15.24) — not yet.
  Status protect(uint64_t pa, uint64_t n) override;
  bool is_protected(uint64_t pa, uint64_t n) override;
  // hal::Svm: the real instructions (VMRUN, INVLPGA, RDTSC) — not yet (QEMU issue).
  bool available() override;
  Status enable(uint64_t hsave_pa) override;
  void vmrun(uint64_t vmcb_pa, hal::GuestGprs& regs) override;
  void invlpga(uint64_t va, uint32_t asid) override;
  uint64_t rdtsc() override;
  void arm_timer(uint64_t deadline_tsc, uint8_t vector) override;

 private:
  SerialConsole serial_;
};

}  // namespace redoubt::x86
