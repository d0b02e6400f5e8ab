// The harness's TPM path of a SwtpmQemuBridge (tpm/swtpm_qemu_bridge.hpp) served on loopback
// TCP the way tpm2-tss' tcti-swtpm (`-T swtpm:host=127.0.0.1,port=P`) talks to `swtpm socket`,
// so that outside tools (tpm2_pcrread, ...) can read the TPM of a QEMU run while the bridge (and
// with it the private swtpm, which dies with its owner) is alive. docs/qemu-tpm-bridge.md
// "Outside tools on the bridge's TPM".
//
//   data port P   : raw TPM command frames (10-byte header with the size); each response is
//                   swtpm's whole response frame. tcti-swtpm opens one connection per command;
//                   a connection may carry any number of commands in turn.
//   control P+1   : uint32 command code (big-endian) + its payload, answered like swtpm's control
//                   channel (uint32 ptm_res + the rest). Served: CMD_SET_LOCALITY (what tcti-swtpm
//                   sends at init and on Tss2_Tcti_SetLocality), CMD_GET_CAPABILITY (ptm_cap, no
//                   result code: PTM_CAP_SET_LOCALITY only). Refused with TPM_FAIL (9) and the
//                   connection closed: everything else, notably CMD_INIT (Tss2_Tcti_Swtpm_Reset would
//                   reset the TPM and wipe the PCRs of the run), CMD_SHUTDOWN, CMD_HASH_*, CMD_STOP.
//
// Everything goes through the bridge's harness path (harness_transmit / harness_set_locality),
// under the bridge's lock, so the rules of that path hold: refused while QEMU is attached (the
// connection is then closed without a response: the client sees an I/O error). Only 127.0.0.1 is
// bound. One client connection is served at a time, in the order they are accepted (tcti-swtpm
// is strictly sequential); a client that sends nothing for io_timeout_ms is dropped.
// The harness's own SwtpmBridgeTpm shares the TPM: a tool that changes the locality leaves it
// changed (tcti-swtpm sets 0), so call its set_locality() again before using it after the tools.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "tpm/swtpm_qemu_bridge.hpp"

namespace redoubt::tpm {

class SwtpmBridgeTcpServer {
 public:
  // Binds 127.0.0.1:P (data) and 127.0.0.1:P+1 (control); port 0: a free pair is chosen.
  // Throws TpmError if no pair can be bound. Serves on its own thread until destroyed.
  explicit SwtpmBridgeTcpServer(std::shared_ptr<SwtpmQemuBridge> bridge, uint16_t port = 0, int io_timeout_ms = 10000);
  ~SwtpmBridgeTcpServer();
  SwtpmBridgeTcpServer(const SwtpmBridgeTcpServer&) = delete;
  SwtpmBridgeTcpServer& operator=(const SwtpmBridgeTcpServer&) = delete;

  uint16_t port() const { return port_; }  // data port; control is port() + 1
  // "swtpm:host=127.0.0.1,port=P" for tpm2-tools' -T / TPM2TOOLS_TCTI.
  std::string tcti() const { return "swtpm:host=127.0.0.1,port=" + std::to_string(port_); }
  unsigned tpm_commands() const { return tpm_commands_; }    // frames answered
  unsigned ctrl_commands() const { return ctrl_commands_; }  // control commands received

 private:
  void loop();
  void serve_data(int fd);
  void serve_ctrl(int fd);
  std::shared_ptr<SwtpmQemuBridge> bridge_;
  int io_timeout_ms_;
  int data_listen_ = -1, ctrl_listen_ = -1, wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<unsigned> tpm_commands_{0}, ctrl_commands_{0};
  std::thread thread_;
};

}  // namespace redoubt::tpm
