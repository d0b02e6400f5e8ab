// The embedded TPM: libtpms in this process behind LibtpmsTcti.
#pragma once
#include <memory>
#include <string>

#include "tpm/tcti_libtpms.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::tpm {

class InprocTpm final : public TpmDevice {
 public:
  // state_dir empty: a fresh temporary directory, removed again by the destructor.
  explicit InprocTpm(const std::string& state_dir);
  ~InprocTpm() override;

  void power_on() override;
  void drtm_hash(const uint8_t* data, size_t n) override;
  bool supports_drtm() const override { return true; }
  void set_locality(uint8_t locality) override;
  std::string describe() const override;

  const std::string& state_dir() const { return dir_; }

 private:
  void close_esys();
  std::string dir_;
  bool temp_dir_ = false;
  std::unique_ptr<LibtpmsTcti> tcti_;
};

}  // namespace redoubt::tpm
