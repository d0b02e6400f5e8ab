// TpmDevice::transmit: a raw command frame through the ESYS context's own TCTI,
// for TPM interfaces (the simulated TIS FIFO) that carry bytes, not ESAPI calls.
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tcti.h>

#include <cstdio>

#include "tpm/tpm_device.hpp"
#include "tpm/tpm_rc.hpp"

namespace redoubt::tpm {

namespace {
uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Restores the device's locality when transmit leaves, also by an exception.
class LocalityScope {
 public:
  LocalityScope(TpmDevice& dev, uint8_t locality) : dev_(dev), saved_(dev.locality()) {
    if (locality != saved_) dev_.set_locality(locality);
  }
  ~LocalityScope() {
    if (dev_.locality() != saved_) {
      try {
        dev_.set_locality(saved_);
      } catch (const TpmError&) {
        // The next ESAPI call reports a broken transport itself.
      }
    }
  }

 private:
  TpmDevice& dev_;
  uint8_t saved_;
};
}  // namespace

std::vector<uint8_t> TpmDevice::transmit(uint8_t locality, std::span<const uint8_t> command) {
  // TPM 2.0 Part 1 §18.2: every command starts with tag(2) size(4) code(4), size = the whole frame.
  if (command.size() < 10)
    throw TpmError("TPM transmit: command of " + std::to_string(command.size()) + " bytes is shorter than its header");
  if (be32(command.data() + 2) != command.size())
    throw TpmError("TPM transmit: header size " + std::to_string(be32(command.data() + 2)) + " but " +
                   std::to_string(command.size()) + " bytes given");
  if (locality > 4) throw TpmError("TPM transmit: locality " + std::to_string(locality) + " (0..4)");
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  check_rc(Esys_GetTcti(esys_, &tcti), "Esys_GetTcti", locality_);
  LocalityScope scope(*this, locality);
  check_rc(Tss2_Tcti_Transmit(tcti, command.size(), command.data()), "TCTI transmit", locality);
  std::vector<uint8_t> resp(4096);
  size_t size = resp.size();
  check_rc(Tss2_Tcti_Receive(tcti, &size, resp.data(), TSS2_TCTI_TIMEOUT_BLOCK), "TCTI receive", locality);
  resp.resize(size);
  return resp;
}

}  // namespace redoubt::tpm
