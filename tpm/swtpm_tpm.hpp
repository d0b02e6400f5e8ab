// swtpm over TCP through tpm2-tss' tcti-swtpm (the TPM QEMU uses), either a
// running one (swtpm:host=H,port=P) or a private child (swtpm).
#pragma once
#include <sys/types.h>
#include <tss2/tss2_tcti.h>

#include <memory>
#include <string>

#include "tpm/swtpm_process.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::tpm {

class SwtpmTpm final : public TpmDevice {
 public:
  explicit SwtpmTpm(const TpmSpec& spec);
  ~SwtpmTpm() override;

  void power_on() override;   // CMD_INIT (delete volatile) + TPM2_Startup(CLEAR)
  void drtm_hash(const uint8_t* data, size_t n) override;  // CMD_HASH_START/DATA/END
  bool supports_drtm() const override { return true; }
  void set_locality(uint8_t locality) override;
  std::string describe() const override;

  pid_t pid() const { return proc_ ? proc_->pid() : -1; }  // -1 unless spawned
  std::string state_dir() const { return proc_ ? proc_->state_dir() : std::string(); }
  uint16_t port() const { return port_; }
  uint16_t ctrl_port() const { return ctrl_port_; }

 private:
  void open_esys();
  void close_all();
  std::string host_;
  uint16_t port_ = 0, ctrl_port_ = 0;
  std::unique_ptr<SwtpmProcess> proc_;
  TSS2_TCTI_CONTEXT* tcti_ = nullptr;  // malloc'd, Tss2_Tcti_Swtpm_Init
};

}  // namespace redoubt::tpm
