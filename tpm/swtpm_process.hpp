// A private swtpm child process (RAII). Two transports:
//  - Transport::tcp (default): `swtpm socket --tpm2 --tpmstate dir=D
//    --server type=tcp,port=P,bindaddr=127.0.0.1 --ctrl type=tcp,fd=3 --flags not-need-init`.
//  - Transport::unix_ctrl: `swtpm socket --tpm2 --tpmstate dir=D --ctrl type=unixio,clientfd=3
//    --flags not-need-init`: no data server at all and the control channel is one end of a
//    socketpair whose other end (ctrl_fd()) only this process holds, the way QEMU's
//    `-tpmdev emulator` talks to swtpm. The data channel is then given with CMD_SET_DATAFD.
//
// Ports: data P, control P+1 (tcti-swtpm's fixed convention). The control socket is bound
// here and inherited, so it cannot be taken by anyone else; a conflict on P makes swtpm
// exit during start-up and is retried with new ports.
// The child gets PR_SET_PDEATHSIG(SIGKILL), so it dies with us even if we crash; the
// destructor stops it (CMD_SHUTDOWN, then SIGTERM, then SIGKILL) and reaps it.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace redoubt::tpm {

class SwtpmProcess {
 public:
  // state_dir empty: state in a private temporary directory, removed by the destructor.
  // setup_config non-empty and no TPM 2 state in state_dir yet: manufacture the TPM first with
  // `swtpm_setup --tpm2 --ecc --create-ek-cert --create-platform-cert --config setup_config`
  // (EK certificates from the CA that config names, e.g. swtpm-localca, written into NV).
  enum class Transport { tcp, unix_ctrl };
  explicit SwtpmProcess(const std::string& state_dir, const std::string& setup_config = "",
                        Transport transport = Transport::tcp);
  ~SwtpmProcess();
  SwtpmProcess(const SwtpmProcess&) = delete;
  SwtpmProcess& operator=(const SwtpmProcess&) = delete;

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  uint16_t ctrl_port() const { return ctrl_port_; }
  const std::string& state_dir() const { return state_dir_; }
  bool temporary_state() const { return run_dir_ + "/state" == state_dir_; }
  // Transport::unix_ctrl: our end of the control socketpair (owned here; closed by the destructor).
  int ctrl_fd() const { return ctrl_fd_; }
  const std::string& run_dir() const { return run_dir_; }

  // The last ~600 bytes of swtpm's stdout/stderr (for error messages).
  std::string log_tail() const;
  // Non-blocking: "" while the child runs, else how it ended ("exited with status N" /
  // "killed by signal N"); reaps it.
  std::string exit_reason();

 private:
  bool spawn_once(std::string* why);
  void run_swtpm_setup(const std::string& setup_config);
  bool spawn_unix_once(std::string* why);
  void stop();
  pid_t pid_ = -1;
  int ctrl_fd_ = -1;
  Transport transport_ = Transport::tcp;
  std::string exit_reason_;
  uint16_t port_ = 0, ctrl_port_ = 0;
  std::string run_dir_;    // private temp dir: swtpm.log (+ state/ if none was given)
  std::string state_dir_;
};

}  // namespace redoubt::tpm
