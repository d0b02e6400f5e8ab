// The simulator's implementation of the HAL (as Hafnium's arch/fake): the
// native build of sl/ and hypervisor/ runs against it.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "arch/intel/txt_secrets.hpp"
#include "platform/hal/hal.hpp"
#include "platform/sim/machine.hpp"
#include "tpm/tpm_device.hpp"
#include "abi/handoff.hpp"

namespace redoubt::sim {

// The host-side TPM client (tpm/) is a library of its own; the simulator is one of its users.
using tpm::TpmDevice;
using tpm::TpmError;

using ConsoleSink = std::function<void(std::string_view)>;

// Thrown by SimPlatform::halt: the simulated CPU stopped for good.
class SimHalt : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SimPlatform final : public hal::Platform, hal::Tpm, hal::PhysMem, hal::DmaProtection, hal::Console {
 public:
  SimPlatform(Machine& m, TpmDevice& tpm, ConsoleSink sink) : m_(m), tpm_(tpm), sink_(std::move(sink)) {}

  hal::Console& console() override { return *this; }
  hal::Tpm& tpm() override { return *this; }
  hal::PhysMem& mem() override { return *this; }
  hal::DmaProtection& dma() override { return *this; }
  // The simulated CPU's SVM model; set by whoever runs guests (set_svm).
  hal::Svm& svm() override;
  void set_svm(hal::Svm* svm) { svm_ = svm; }
  // Run this instead of the native hypervisor at the hand-off (platform/fake/measured_hv).
  void set_hypervisor_runner(std::function<Status(hal::HypervisorHandoff&)> r) { runner_ = std::move(r); }
  // Test-only flags for the native hypervisor (hypervisor/core/entry.hpp kHvTest*).
  void set_hv_test_flags(uint64_t f) { hv_test_flags_ = f; }
  Status enter_hypervisor(hal::HypervisorHandoff& handoff) override;
  [[noreturn]] void halt(const char* why) override;
  // The Machine's sticky flag, as the TXT registers set it on the full-system machine.
  bool secrets_in_memory(bool present) override {
    m_.secrets().mmio_write(present ? arch::txt::kCmdSecrets : arch::txt::kCmdNoSecrets, 8, 1, true);
    return true;
  }

  // hal::Console
  void write(const char* s, size_t n) override;
  // hal::Tpm
  Status active_banks(BankList& out) override;
  Status pcr_extend(uint8_t locality, uint32_t pcr, const DigestList& digests) override;
  Status nv_read_counter(uint8_t locality, uint32_t nv_index, uint64_t& value) override;
  // hal::PhysMem
  uint8_t* map(uint64_t pa, uint64_t n) override { return m_.mem().map(pa, n); }
  // hal::DmaProtection (DEV)
  Status protect(uint64_t pa, uint64_t n) override;
  bool is_protected(uint64_t pa, uint64_t n) override { return m_.dev().all_protected(pa, n); }

  // What the simulator observed.
  bool hypervisor_entered() const { return handoff_.has_value(); }
  const std::optional<hal::HypervisorHandoff>& handoff() const {
    if (live_handoff_) handoff_ = *live_handoff_;  // the CPU stopped inside the hypervisor: its latest view
    return handoff_;
  }
  std::chrono::steady_clock::time_point hv_entry_time() const { return hv_entry_time_; }

 private:
  Machine& m_;
  TpmDevice& tpm_;
  ConsoleSink sink_;
  std::string line_;
  mutable std::optional<hal::HypervisorHandoff> handoff_;
  hal::HypervisorHandoff* live_handoff_ = nullptr;
  hal::Svm* svm_ = nullptr;
  std::function<Status(hal::HypervisorHandoff&)> runner_;
  uint64_t hv_test_flags_ = 0;
  std::chrono::steady_clock::time_point hv_entry_time_{};
};

}  // namespace redoubt::sim
