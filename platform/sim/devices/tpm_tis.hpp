// A TPM 2.0 behind the PTP FIFO interface (TCG PC Client PTP §6 "TPM FIFO
// Interface"), as the measured images see it at 0xFED40000: five locality
// windows, TPM_ACCESS arbitration, the TPM_STS command/response state machine
// (Idle, Ready, Reception, Execution, Completion; PTP §6 (state machine)) and the data FIFO.
// tpmGo hands the command bytes to the host TPM (tpm::TpmDevice::transmit) at
// the window's locality. Locality 4 belongs to the CPU's DRTM sequence: software
// writes to its registers are ignored (as on hardware, and as QEMU does).
// Interrupts are not modelled and TPM_INTF_CAPABILITY says so.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "arch/tpm/tis.hpp"

namespace redoubt::tpm {
class TpmDevice;
}

namespace redoubt::sim {

class TpmTis {
 public:
  static constexpr uint64_t kBase = arch::tis::kBase;
  static constexpr uint64_t kSize = arch::tis::kWindowSize;
  static constexpr uint32_t kBufferSize = 4096;  // one command or response (TPM_PT_MAX_COMMAND_SIZE)
  static constexpr uint16_t kVendorId = 0x1014;  // IBM: the libtpms/swtpm behind it
  static constexpr uint16_t kDeviceId = 0x0001;
  static constexpr uint8_t kRevisionId = 0x01;

  enum class State { idle, ready, reception, execution, completion };

  // burst: the most bytes TPM_STS.burstCount ever offers (>= 1); small values
  // make drivers exercise their burst loop.
  explicit TpmTis(tpm::TpmDevice& tpm, uint16_t burst = 64);

  // MMIO inside the 20 KiB window: offset = pa - kBase, size 1, 2 or 4 (PTP
  // §6 (register space): LPC/SPI cycles are at most 4 bytes). Other sizes read all-ones
  // and are dropped on write; offsets past the window likewise.
  uint64_t mmio_read(uint64_t offset, unsigned size);
  void mmio_write(uint64_t offset, unsigned size, uint64_t value);

  // TPM_ACCESS.tpmEstablishment mirrors the TPM's tpmEstablished flag, which
  // _TPM_Hash_Start sets (the SKINIT model calls this after its DRTM sequence).
  void set_established(bool established) { established_ = established; }
  bool established() const { return established_; }

  int active_locality() const { return active_; }  // -1: none
  State state() const { return state_; }
  uint64_t commands_executed() const { return commands_; }
  // Why the last command got TPM_RC_FAILURE from the interface (transport error), "" if none.
  const std::string& last_error() const { return last_error_; }

  // Test hook: sees (and may rewrite) every response before the FIFO serves it,
  // to inject malformed responses into a driver.
  std::function<void(std::vector<uint8_t>&)> response_filter;

 private:
  uint8_t read_byte(uint32_t locality, uint32_t reg_off);
  void write_byte(uint32_t locality, uint32_t reg_off, uint8_t v);
  void write_access(uint32_t locality, uint8_t v);
  void write_sts(uint32_t locality, uint32_t byte, uint8_t v);
  void fifo_write(uint8_t b);
  uint8_t fifo_read();
  uint32_t sts_value() const;
  bool expect() const;
  void set_active(int locality);  // resets the FIFO to Idle
  void execute(uint32_t locality);

  tpm::TpmDevice& tpm_;
  uint16_t burst_;
  int active_ = -1;
  bool request_use_[arch::tis::kLocalities] = {};
  bool been_seized_[arch::tis::kLocalities] = {};
  bool intf_sel_lock_ = false;
  bool established_ = false;
  State state_ = State::idle;
  std::vector<uint8_t> cmd_;   // bytes received (Reception)
  std::vector<uint8_t> resp_;  // response (Completion)
  size_t resp_pos_ = 0;
  uint64_t commands_ = 0;
  std::string last_error_;
};

}  // namespace redoubt::sim
