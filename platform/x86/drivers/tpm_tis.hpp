// Bare-metal driver for the TPM FIFO interface (TCG PC Client PTP §6), polled:
// request a locality, commandReady, write the command in bursts checking
// Expect, tpmGo, wait dataAvail, read the header then the rest (responseRetry
// on a bad read), commandReady to finish, relinquish the locality.
//
// Timeouts without a calibrated clock: each wait is a bounded number of polls
// of a TPM register. On LPC or SPI a TPM register read is a bus transaction of
// at least ~1 µs (an LPC I/O cycle is ~1 µs, SPI slower), so `polls_per_ms`
// = 1000 polls wait at least the PTP timeout (§6, interface timeouts: A = 750 ms, B = 2 s,
// C = 200 ms, D = 30 ms) and never forever. The simulated TPM answers in zero
// time, so the bounds matter only on hardware, where they err long.
// Freestanding.
#pragma once
#include <cstddef>
#include <cstdint>

#include "platform/hal/status.hpp"
#include "platform/x86/drivers/io.hpp"

namespace redoubt::x86 {

class TisDriver {
 public:
  static constexpr uint32_t kDefaultPollsPerMs = 1000;
  // How long a command may run (tpmGo → dataAvail), in the polls' nominal ms: 15 x the longest PTP
  // duration (arch/tpm/tis.hpp kCommandDurationMs, 2 s). The PTP durations are what a TPM must meet;
  // this bound is a poll count, and under QEMU TCG a poll takes well under 1 us while the answer
  // comes from swtpm, another process that a loaded host deschedules: 2 s of polls ran out there
  // once in a few dozen test runs ("timed out waiting for dataAvail after tpmGo"). Linux waits up to
  // 120 s for a TPM 2.0 command (tpm.h, TPM2_DURATION_DEFAULT). A TPM that never answers still
  // ends the launch with that error, after >= 30 s on LPC/SPI hardware.
  static constexpr uint32_t kCommandWaitMs = 30000;
  static constexpr int kResponseRetries = 3;  // responseRetry attempts on a bad read

  // mmio: the whole 20 KiB window at 0xFED40000 (offset = locality * 0x1000 + register).
  explicit TisDriver(Mmio& mmio, uint32_t polls_per_ms = kDefaultPollsPerMs) : mmio_(mmio), polls_per_ms_(polls_per_ms) {}

  // Locality arbitration (PTP §6 (command/response)). Locality 4 is the CPU's: refused.
  Status request_locality(uint8_t locality);
  Status relinquish_locality(uint8_t locality);

  // One command/response at `locality`: requests the locality, runs the
  // FIFO protocol, relinquishes it. resp receives the full response (header
  // included) and resp_len its length; a response longer than resp_cap, or one
  // that ends before its header's size, is an error naming the cause.
  Status transact(uint8_t locality, const uint8_t* cmd, size_t cmd_len, uint8_t* resp, size_t resp_cap,
                  size_t& resp_len);

  // Polls used by the last transact (to measure, and to test the bounds).
  uint64_t last_polls() const { return polls_; }

 private:
  uint32_t sts(uint8_t l);
  Status wait_sts(uint8_t l, uint32_t mask, uint32_t want, uint32_t timeout_ms, const char* what);
  Status wait_burst(uint8_t l, uint32_t& burst, const char* what);
  Status send(uint8_t l, const uint8_t* cmd, size_t n);
  Status receive(uint8_t l, uint8_t* resp, size_t cap, size_t& len);
  uint64_t bound(uint32_t ms) const { return uint64_t{ms} * polls_per_ms_ + 1; }

  Mmio& mmio_;
  uint32_t polls_per_ms_;
  uint64_t polls_ = 0;
};

}  // namespace redoubt::x86
