// The harness's TpmDevice on a SwtpmQemuBridge (tpm/swtpm_qemu_bridge.hpp): ESAPI over a
// small TCTI of our own (TSS2_TCTI_CONTEXT_COMMON_V2) whose transmit hands the command frame to
// the bridge (its data channel to swtpm, under the bridge's lock) and whose setLocality sends
// CMD_SET_LOCALITY on the bridge's control connection. No TCP anywhere.
//
// Use it while QEMU is NOT attached: before QEMU starts (power_on, provisioning) and after
// QEMU exited (resume_after_qemu(), then read PCRs / quote; no CMD_INIT, so the PCRs of the
// QEMU run are still there). While QEMU is attached every TPM command and locality change is
// refused at once: TpmError "... TSS2_TCTI_RC_NOT_PERMITTED ...: QEMU is attached to the swtpm
// bridge ...". A refused ESAPI call leaves ESAPI's context unusable (tpm2-tss puts it in its
// internal-error state), and QEMU resets the TPM anyway: call resume_after_qemu() before using
// the device again; it opens a fresh ESAPI context.
#pragma once
#include <memory>
#include <string>

#include "tpm/swtpm_qemu_bridge.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::tpm {

class SwtpmBridgeTpm final : public TpmDevice {
 public:
  // power_on_now: CMD_INIT + TPM2_Startup(CLEAR) now (the harness's start); false: take the
  // TPM as it is (e.g. a second device opened after QEMU exited).
  explicit SwtpmBridgeTpm(std::shared_ptr<SwtpmQemuBridge> bridge, bool power_on_now = true);
  ~SwtpmBridgeTpm() override;
  SwtpmBridgeTpm(const SwtpmBridgeTpm&) = delete;
  SwtpmBridgeTpm& operator=(const SwtpmBridgeTpm&) = delete;

  // CMD_INIT (delete volatile state) + TPM2_Startup(CLEAR), locality 0. PCR17/18 then read all-ones.
  void power_on() override;
  // Flushes transient objects (ESAPI; only when QEMU is not attached), then the bridge's
  // CMD_HASH_START/DATA/END. Attached or not.
  void drtm_hash(const uint8_t* data, size_t n) override;
  bool supports_drtm() const override { return true; }
  void set_locality(uint8_t locality) override;  // CMD_SET_LOCALITY through the bridge
  std::string describe() const override;         // "swtpm (QEMU bridge) pid N state D"

  // After QEMU exited: waits up to timeout_ms for the bridge to see QEMU's control connection
  // close (TpmError if it does not), opens a fresh ESAPI context (its cached state predates
  // QEMU's TPM resets) and sets this device's locality again (QEMU leaves swtpm at the
  // guest's last locality). No CMD_INIT, no Startup.
  void resume_after_qemu(int timeout_ms = 5000);

  SwtpmQemuBridge& bridge() { return *bridge_; }
  std::shared_ptr<SwtpmQemuBridge> shared_bridge() const { return bridge_; }  // e.g. for SwtpmBridgeTcpServer

  struct Tcti;  // the TCTI context (TSS2_TCTI_CONTEXT_COMMON_V2 first)

 private:
  void open_esys();
  std::shared_ptr<SwtpmQemuBridge> bridge_;
  Tcti* tcti_ = nullptr;
};

}  // namespace redoubt::tpm
