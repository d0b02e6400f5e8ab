// A kernel TPM device (/dev/tpmrm0) through tcti-device. Software can neither reset a
// hardware TPM nor issue the locality-4 _TPM_Hash_Start/Data/End sequence: only the CPU's
// SKINIT (AMD) or GETSEC[SENTER] (Intel) reaches locality 4 on real hardware.
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tcti_device.h>

#include <cstdlib>

#include "tpm/backends.hpp"
#include "tpm/tpm_rc.hpp"

namespace redoubt::tpm {

namespace {

class DeviceTpm final : public TpmDevice {
 public:
  explicit DeviceTpm(const std::string& path) : path_(path) {
    size_t size = 0;
    check_rc(Tss2_Tcti_Device_Init(nullptr, &size, path_.c_str()), "Tss2_Tcti_Device_Init(size)", 0);
    tcti_ = static_cast<TSS2_TCTI_CONTEXT*>(std::calloc(1, size));
    if (!tcti_) throw TpmError("device TPM: out of memory for the TCTI");
    TSS2_RC rc = Tss2_Tcti_Device_Init(tcti_, &size, path_.c_str());
    if (rc != TSS2_RC_SUCCESS) {
      std::free(tcti_);
      tcti_ = nullptr;
      throw TpmError("device TPM " + path_ + ": cannot open it (tcti-device rc " + tpm_rc_name(rc) +
                         "); does the device exist and may this user open it?",
                     rc);
    }
    rc = Esys_Initialize(&esys_, tcti_, nullptr);
    if (rc != TSS2_RC_SUCCESS) {
      close();
      throw_tpm_rc("Esys_Initialize(" + path_ + ")", 0, rc);
    }
    // The firmware already ran TPM2_Startup; nothing to do here.
  }
  ~DeviceTpm() override { close(); }

  void power_on() override {
    throw TpmError("device TPM " + path_ +
                   ": power_on is impossible: software cannot reset a hardware TPM (only a platform reset does)");
  }
  void drtm_hash(const uint8_t*, size_t) override {
    throw TpmError("device TPM " + path_ +
                   ": software cannot issue the locality-4 _TPM_Hash_Start/Data/End sequence; "
                   "only SKINIT (AMD) / GETSEC[SENTER] (Intel) can");
  }
  bool supports_drtm() const override { return false; }
  void set_locality(uint8_t locality) override {
    if (locality > 4) throw TpmError("set_locality(" + std::to_string(locality) + "): localities are 0..4");
    check_rc(Tss2_Tcti_SetLocality(tcti_, locality),
             "tcti-device setLocality(" + std::to_string(locality) + ") on " + path_, locality_);
    locality_ = locality;
  }
  std::string describe() const override { return "device " + path_; }

 private:
  void close() {
    if (esys_) Esys_Finalize(&esys_);
    esys_ = nullptr;
    if (tcti_) {
      Tss2_Tcti_Finalize(tcti_);
      std::free(tcti_);
      tcti_ = nullptr;
    }
  }
  std::string path_;
  TSS2_TCTI_CONTEXT* tcti_ = nullptr;
};

}  // namespace

std::unique_ptr<TpmDevice> make_device_tpm(const TpmSpec& spec) {
  return std::make_unique<DeviceTpm>(spec.device_path);
}

}  // namespace redoubt::tpm
