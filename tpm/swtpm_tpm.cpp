#include "tpm/swtpm_tpm.hpp"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tcti_swtpm.h>

#include <algorithm>
#include <cstdlib>

#include "tpm/backends.hpp"
#include "tpm/swtpm_ctrl.hpp"
#include "tpm/tpm_rc.hpp"

namespace redoubt::tpm {

SwtpmTpm::SwtpmTpm(const TpmSpec& spec) {
  try {
    if (spec.kind == TpmSpec::Kind::swtpm_spawn) {
      proc_ = std::make_unique<SwtpmProcess>(spec.state_dir, spec.setup_config);
      host_ = "127.0.0.1";
      port_ = proc_->port();
      ctrl_port_ = proc_->ctrl_port();
    } else {
      host_ = spec.host;
      port_ = spec.port;
      ctrl_port_ = spec.ctrl_port;
      // tcti-swtpm always talks to the control channel at port+1 (locality, and SET_LOCALITY 0 at init).
      if (ctrl_port_ != port_ + 1)
        throw TpmError("swtpm " + host_ + ":" + std::to_string(port_) + ": tcti-swtpm needs the control channel at port+1 (" +
                       std::to_string(port_ + 1) + "), not " + std::to_string(ctrl_port_));
    }
    const std::string conf = "host=" + host_ + ",port=" + std::to_string(port_);
    size_t size = 0;
    check_rc(Tss2_Tcti_Swtpm_Init(nullptr, &size, conf.c_str()), "Tss2_Tcti_Swtpm_Init(size)", 0);
    tcti_ = static_cast<TSS2_TCTI_CONTEXT*>(std::calloc(1, size));
    if (!tcti_) throw TpmError("swtpm: out of memory for the TCTI");
    TSS2_RC rc = Tss2_Tcti_Swtpm_Init(tcti_, &size, conf.c_str());
    if (rc != TSS2_RC_SUCCESS) {
      std::free(tcti_);
      tcti_ = nullptr;
      throw_tpm_rc("Tss2_Tcti_Swtpm_Init(" + conf + ")", 0, rc);
    }
    open_esys();
    power_on();
  } catch (...) {
    close_all();
    throw;
  }
}

SwtpmTpm::~SwtpmTpm() { close_all(); }

void SwtpmTpm::open_esys() {
  check_rc(Esys_Initialize(&esys_, tcti_, nullptr), "Esys_Initialize(swtpm)", locality_);
}

void SwtpmTpm::close_all() {
  if (esys_) Esys_Finalize(&esys_);
  esys_ = nullptr;
  if (tcti_) {
    Tss2_Tcti_Finalize(tcti_);
    std::free(tcti_);
    tcti_ = nullptr;
  }
  proc_.reset();  // stops and reaps a spawned swtpm
}

void SwtpmTpm::power_on() {
  {
    SwtpmCtrl ctrl(host_, ctrl_port_);
    const uint8_t flags[4] = {0, 0, 0, kSwtpmInitFlagDeleteVolatile};  // big-endian init_flags
    ctrl.checked("CMD_INIT", kSwtpmInit, flags, sizeof flags);
  }
  // Volatile TPM state is gone: rebuild ESAPI's handle cache as well.
  if (esys_) Esys_Finalize(&esys_);
  esys_ = nullptr;
  open_esys();
  set_locality(0);
  tpm_startup_clear(esys_, 0);
}

void SwtpmTpm::drtm_hash(const uint8_t* data, size_t n) {
  flush_transients(esys_, locality_);
  // No TPM command may reach the swtpm until CMD_HASH_END: it would silently abort the sequence.
  SwtpmCtrl ctrl(host_, ctrl_port_);
  ctrl.checked("CMD_HASH_START", kSwtpmHashStart);
  uint8_t buf[4 + kSwtpmHashChunk];
  while (n > 0) {
    const size_t chunk = n < kSwtpmHashChunk ? n : kSwtpmHashChunk;
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = static_cast<uint8_t>(chunk >> 8);
    buf[3] = static_cast<uint8_t>(chunk);
    std::copy_n(data, chunk, buf + 4);
    ctrl.checked("CMD_HASH_DATA", kSwtpmHashData, buf, 4 + chunk);
    data += chunk;
    n -= chunk;
  }
  ctrl.checked("CMD_HASH_END", kSwtpmHashEnd);
}

void SwtpmTpm::set_locality(uint8_t locality) {
  if (locality > 4) throw TpmError("set_locality(" + std::to_string(locality) + "): localities are 0..4");
  // tcti-swtpm sends CMD_SET_LOCALITY on the control channel; swtpm keeps it for later commands.
  check_rc(Tss2_Tcti_SetLocality(tcti_, locality), "tcti-swtpm setLocality(" + std::to_string(locality) + ")",
           locality_);
  locality_ = locality;
}

std::string SwtpmTpm::describe() const {
  std::string s = "swtpm " + host_ + ":" + std::to_string(port_) + " (ctrl " + std::to_string(ctrl_port_);
  if (proc_) s += ", spawned pid " + std::to_string(proc_->pid()) + ", state " + proc_->state_dir();
  return s + ")";
}

std::unique_ptr<TpmDevice> make_swtpm_tpm(const TpmSpec& spec) { return std::make_unique<SwtpmTpm>(spec); }

}  // namespace redoubt::tpm
