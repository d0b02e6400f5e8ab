// A private swtpm shared by QEMU (`-tpmdev emulator`) and the test harness, with the
// harness in control: it can make SKINIT's DRTM measurement (CMD_HASH_START/DATA/END, what
// the CPU sends at locality 4) while QEMU is attached, and use the same TPM through ESAPI
// before QEMU starts and after it exited (SwtpmBridgeTpm, tpm/swtpm_bridge_tpm.hpp).
//
// Topology (all UNIX sockets; nothing on TCP):
//
//   QEMU --ctrl--> qemu_socket_path() --+                 +--ctrl (socketpair, swtpm clientfd=3)--> swtpm
//   QEMU --data (its CMD_SET_DATAFD fd)-+--> relay thread-+--data (socketpair given to swtpm by
//   harness (ESAPI via SwtpmBridgeTpm) -+    (one lock)   |   our own CMD_SET_DATAFD, once)
//   harness drtm_hash() ----------------+                 +
//
// swtpm runs `swtpm socket --tpm2 --tpmstate dir=D --ctrl type=unixio,clientfd=3 --flags
// not-need-init` (SwtpmProcess, Transport::unix_ctrl). The bridge holds swtpm's ONLY control
// connection and ONLY data channel for swtpm's whole life, and relays QEMU's:
//  - control commands are framed by their code (request and response lengths of
//    swtpm's tpm_ioctl.h, as QEMU's backends/tpm/tpm_emulator.c sends them) and forwarded
//    one at a time; the replies go back to QEMU. Exceptions, answered by the bridge itself:
//      CMD_SET_DATAFD: QEMU's fd (SCM_RIGHTS) is kept by the bridge, which relays TPM
//        command frames between it and swtpm's data channel. swtpm accepts only one data fd
//        (a second CMD_SET_DATAFD fails with TPM_IOERROR), and relaying the frames lets the
//        bridge keep QEMU's TPM commands out of a DRTM sequence: any TPM command between
//        HASH_START and HASH_END silently aborts it.
//      CMD_SHUTDOWN (QEMU sends it when it exits): answered 0, not forwarded, so swtpm and
//        its volatile state (the PCRs of the QEMU run) survive QEMU.
//      CMD_GET_STATEBLOB / CMD_SET_STATEBLOB (migration, snapshots): refused (TPM_FAIL).
//  - TPM command frames (10-byte header with the size) are relayed whole: command, then
//    swtpm's whole response, under the same lock as the harness's own TPM commands and
//    drtm_hash(). So drtm_hash() lands between two of QEMU's commands, never inside one.
// QEMU attaches when it connects to qemu_socket_path() and detaches when that connection
// closes (QEMU exited or was killed). One QEMU at a time: a second connection is closed at
// once. While QEMU is attached the harness's ESAPI path is refused (TSS2_TCTI_RC_NOT_PERMITTED
// with a message saying so); drtm_hash() works attached or not.
//
// Failure: every read from swtpm has a timeout; a dead, hung or misbehaving swtpm makes the
// call (or the relayed QEMU command: QEMU's connection is then closed) fail with a TpmError
// naming the step, how swtpm ended and its log tail. The bridge then stays broken (failure()).
#pragma once
#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tpm/swtpm_process.hpp"

namespace redoubt::tpm {

class SwtpmQemuBridge {
 public:
  struct Options {
    std::string state_dir;     // swtpm --tpmstate dir (created if missing, kept); empty: temporary
    std::string setup_config;  // non-empty + no TPM state yet: swtpm_setup first (SwtpmProcess)
    int ctrl_timeout_ms = 10000;  // any control-channel reply from swtpm
    int data_timeout_ms = 60000;  // any TPM response from swtpm (RSA key creation can take ~0.5 s)
    int qemu_read_timeout_ms = 5000;  // the rest of a QEMU message once its first byte arrived
  };

  // What QEMU did, for tests and diagnostics.
  struct QemuStats {
    unsigned attaches = 0;          // control connections accepted
    unsigned detaches = 0;          // ... and closed again
    unsigned rejected = 0;          // second connections closed while one QEMU was attached
    unsigned tpm_commands = 0;      // TPM command frames relayed (all QEMU runs)
    std::map<uint32_t, unsigned> ctrl_commands;  // control command code -> count (all QEMU runs)
    std::vector<uint32_t> ctrl_log;              // control command codes in order (capped at 4096)
    unsigned count(uint32_t cmd) const {
      auto it = ctrl_commands.find(cmd);
      return it == ctrl_commands.end() ? 0u : it->second;
    }
  };

  explicit SwtpmQemuBridge(const Options& options);
  SwtpmQemuBridge() : SwtpmQemuBridge(Options{}) {}
  ~SwtpmQemuBridge();  // stops the relay, closes QEMU's connections, stops and reaps swtpm
  SwtpmQemuBridge(const SwtpmQemuBridge&) = delete;
  SwtpmQemuBridge& operator=(const SwtpmQemuBridge&) = delete;

  // The UNIX socket QEMU's `-chardev socket,id=...,path=` connects to.
  std::string qemu_socket_path() const { return socket_path_; }
  // The QEMU arguments for a TPM TIS device on this bridge:
  // -chardev socket,id=chrtpm,path=P -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0
  std::vector<std::string> qemu_args() const;

  // SKINIT's DRTM measurement on the control channel: CMD_HASH_START, CMD_HASH_DATA (chunks of
  // at most 4096 bytes), CMD_HASH_END. Attached or not; between two QEMU commands when attached.
  // Afterwards PCR17 = H(0^n || H(data)) in every bank, PCR18-22 = 0 (libtpms). Throws TpmError.
  void drtm_hash(const uint8_t* data, size_t n);

  bool qemu_attached() const;
  // Wait (bounded) until a QEMU is attached / none is; false on timeout.
  bool wait_attached(int timeout_ms) const;
  bool wait_detached(int timeout_ms) const;
  QemuStats stats() const;

  pid_t swtpm_pid() const { return pid_; }
  std::string state_dir() const { return proc_->state_dir(); }
  std::string log_tail() const { return proc_->log_tail(); }
  // Empty while healthy; else the first failure talking to swtpm (the bridge is then unusable).
  std::string failure() const;

  // --- The harness's own TPM path (used by SwtpmBridgeTpm); all refuse while QEMU is attached
  //     with TpmError(refusal()): "QEMU is attached to the swtpm bridge ...".
  // One TPM command frame -> its response frame.
  std::vector<uint8_t> harness_transmit(const uint8_t* cmd, size_t n);
  void harness_set_locality(uint8_t locality);  // CMD_SET_LOCALITY
  void harness_init(bool delete_volatile);      // CMD_INIT (a TPM reset: PCRs cleared)
  std::string refusal() const;  // "" if the harness may use the TPM now, else why not

 private:
  void relay_loop();
  void detach_locked();  // state_mu_ held
  bool handle_qemu_ctrl();
  bool handle_qemu_data();
  // Control command to swtpm (tpm_mu_ held): request bytes, reads the response per cmd.
  std::vector<uint8_t> swtpm_ctrl(uint32_t cmd, const std::vector<uint8_t>& req, const char* step);
  uint32_t swtpm_ctrl_checked(uint32_t cmd, const std::vector<uint8_t>& body, const char* step);
  std::vector<uint8_t> swtpm_data(const uint8_t* cmd, size_t n, const char* step);
  [[noreturn]] void fail(const std::string& step, const std::string& why);
  void check_healthy() const;
  void check_harness_allowed() const;

  Options opt_;
  std::unique_ptr<SwtpmProcess> proc_;
  pid_t pid_ = -1;
  int ctrl_ = -1;      // swtpm control channel (owned by proc_)
  int data_ = -1;      // swtpm data channel: our end of the socketpair given with CMD_SET_DATAFD
  int listen_ = -1;    // qemu_socket_path()
  int wake_[2] = {-1, -1};
  std::string socket_path_;

  std::mutex tpm_mu_;  // one conversation with swtpm at a time (ctrl_ and data_)
  mutable std::mutex state_mu_;
  mutable std::condition_variable state_cv_;
  int qemu_ctrl_ = -1, qemu_data_ = -1;  // relay thread only (changed under state_mu_)
  bool attached_ = false;
  QemuStats stats_;
  std::string failure_;
  std::thread relay_;
};

}  // namespace redoubt::tpm
