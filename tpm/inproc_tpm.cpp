#include "tpm/inproc_tpm.hpp"

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_tis.h>
#include <tss2/tss2_esys.h>

#include <filesystem>
#include <system_error>

#include "tpm/backends.hpp"
#include "tpm/tpm_rc.hpp"

namespace redoubt::tpm {

namespace fs = std::filesystem;

namespace {
std::string make_temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "redoubt-tpm-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw TpmError("inproc TPM: cannot create a temporary state directory in " +
                                            fs::temp_directory_path().string());
  return tmpl;
}
}  // namespace

InprocTpm::InprocTpm(const std::string& state_dir) : dir_(state_dir) {
  if (dir_.empty()) {
    dir_ = make_temp_dir();
    temp_dir_ = true;
  } else {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw TpmError("inproc TPM: cannot create state directory " + dir_ + ": " + ec.message());
  }
  try {
    tcti_ = std::make_unique<LibtpmsTcti>(dir_);
    check_rc(Esys_Initialize(&esys_, tcti_->context(), nullptr), "Esys_Initialize(inproc)", 0);
    tpm_startup_clear(esys_, 0);
  } catch (...) {
    close_esys();
    tcti_.reset();
    if (temp_dir_) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
    throw;
  }
}

InprocTpm::~InprocTpm() {
  close_esys();
  tcti_.reset();  // TPMLIB_Terminate: NV is already on disk (libtpms stores on every change)
  if (temp_dir_) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void InprocTpm::close_esys() {
  if (esys_) Esys_Finalize(&esys_);
  esys_ = nullptr;
}

// A platform reset: the TPM loses all volatile state (PCRs, loaded objects,
// sessions); ESAPI's handle cache would be stale, so the context is rebuilt too.
void InprocTpm::power_on() {
  close_esys();
  tcti_->reset();
  locality_ = 0;
  check_rc(Esys_Initialize(&esys_, tcti_->context(), nullptr), "Esys_Initialize(inproc)", 0);
  tpm_startup_clear(esys_, 0);
}

void InprocTpm::drtm_hash(const uint8_t* data, size_t n) {
  flush_transients(esys_, locality_);
  // _TPM_Hash_Start/_Data/_End are locality-4 indications by definition (no command, no locality callback).
  TPM_RESULT r = TPM_IO_Hash_Start();
  if (r != TPM_SUCCESS) throw TpmError("_TPM_Hash_Start (inproc) failed", r);
  while (n > 0) {
    const uint32_t chunk = n > (1u << 30) ? (1u << 30) : static_cast<uint32_t>(n);
    r = TPM_IO_Hash_Data(data, chunk);
    if (r != TPM_SUCCESS) throw TpmError("_TPM_Hash_Data (inproc) failed", r);
    data += chunk;
    n -= chunk;
  }
  r = TPM_IO_Hash_End();
  if (r != TPM_SUCCESS) throw TpmError("_TPM_Hash_End (inproc) failed", r);
}

void InprocTpm::set_locality(uint8_t locality) {
  if (locality > 4) throw TpmError("set_locality(" + std::to_string(locality) + "): localities are 0..4");
  check_rc(Tss2_Tcti_SetLocality(tcti_->context(), locality), "TCTI setLocality", locality_);
  locality_ = locality;
}

std::string InprocTpm::describe() const {
  return "inproc libtpms (state " + dir_ + (temp_dir_ ? ", temporary)" : ")");
}

std::unique_ptr<TpmDevice> make_inproc_tpm(const TpmSpec& spec) {
  return std::make_unique<InprocTpm>(spec.state_dir);
}

}  // namespace redoubt::tpm
