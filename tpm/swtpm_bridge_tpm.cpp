#include "tpm/swtpm_bridge_tpm.hpp"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tcti.h>

#include <cstring>

#include "tpm/backends.hpp"
#include "tpm/tpm_rc.hpp"

namespace redoubt::tpm {

// tpm2-tss's TCTIs each carry a magic; this is ours ("RDBRIDGE").
constexpr uint64_t kBridgeTctiMagic = 0x5244425249444745ULL;

struct SwtpmBridgeTpm::Tcti {
  TSS2_TCTI_CONTEXT_COMMON_V2 common;  // must be first: ESAPI casts the pointer
  SwtpmQemuBridge* bridge;
  bool have_response;
  size_t resp_len;
  uint8_t resp[16384];  // swtpm's responses are at most its 4 KiB buffer
};

namespace {

using Tcti = SwtpmBridgeTpm::Tcti;

Tcti* cast(TSS2_TCTI_CONTEXT* c) {
  auto* t = reinterpret_cast<Tcti*>(c);
  return (t && t->common.v1.magic == kBridgeTctiMagic) ? t : nullptr;
}

// The bridge refuses with a TpmError; C code gets a TSS2_RC and the reason goes to
// note_tcti_failure, so the TpmError the caller sees says why.
TSS2_RC refused(SwtpmQemuBridge& bridge, const TpmError& e) {
  note_tcti_failure(e.what());
  const bool attached = bridge.failure().empty() && bridge.qemu_attached();
  return attached ? TSS2_TCTI_RC_NOT_PERMITTED : TSS2_TCTI_RC_IO_ERROR;
}

TSS2_RC tcti_transmit(TSS2_TCTI_CONTEXT* c, size_t size, const uint8_t* command) {
  Tcti* t = cast(c);
  if (!t) return TSS2_TCTI_RC_BAD_CONTEXT;
  if (!command) return TSS2_TCTI_RC_BAD_REFERENCE;
  if (t->have_response) return TSS2_TCTI_RC_BAD_SEQUENCE;
  note_tcti_failure("");
  try {
    const std::vector<uint8_t> r = t->bridge->harness_transmit(command, size);
    if (r.size() > sizeof t->resp) {
      note_tcti_failure("swtpm bridge: response of " + std::to_string(r.size()) + " bytes");
      return TSS2_TCTI_RC_IO_ERROR;
    }
    std::memcpy(t->resp, r.data(), r.size());
    t->resp_len = r.size();
    t->have_response = true;
    return TSS2_RC_SUCCESS;
  } catch (const TpmError& e) {
    return refused(*t->bridge, e);
  }
}

TSS2_RC tcti_receive(TSS2_TCTI_CONTEXT* c, size_t* size, uint8_t* response, int32_t) {
  Tcti* t = cast(c);
  if (!t) return TSS2_TCTI_RC_BAD_CONTEXT;
  if (!size) return TSS2_TCTI_RC_BAD_REFERENCE;
  if (!t->have_response) return TSS2_TCTI_RC_BAD_SEQUENCE;
  if (!response) {  // size query
    *size = t->resp_len;
    return TSS2_RC_SUCCESS;
  }
  if (*size < t->resp_len) {
    *size = t->resp_len;
    return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
  }
  std::memcpy(response, t->resp, t->resp_len);
  *size = t->resp_len;
  t->have_response = false;
  return TSS2_RC_SUCCESS;
}

void tcti_finalize(TSS2_TCTI_CONTEXT*) {}  // the owner frees it; Esys_Finalize does not call this

TSS2_RC tcti_cancel(TSS2_TCTI_CONTEXT*) { return TSS2_TCTI_RC_NOT_IMPLEMENTED; }

TSS2_RC tcti_get_poll_handles(TSS2_TCTI_CONTEXT*, TSS2_TCTI_POLL_HANDLE*, size_t*) {
  return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

TSS2_RC tcti_set_locality(TSS2_TCTI_CONTEXT* c, uint8_t locality) {
  Tcti* t = cast(c);
  if (!t) return TSS2_TCTI_RC_BAD_CONTEXT;
  if (t->have_response) return TSS2_TCTI_RC_BAD_SEQUENCE;
  if (locality > 4) return TSS2_TCTI_RC_BAD_VALUE;
  note_tcti_failure("");
  try {
    t->bridge->harness_set_locality(locality);
    return TSS2_RC_SUCCESS;
  } catch (const TpmError& e) {
    return refused(*t->bridge, e);
  }
}

TSS2_RC tcti_make_sticky(TSS2_TCTI_CONTEXT*, TPM2_HANDLE*, uint8_t) { return TSS2_TCTI_RC_NOT_IMPLEMENTED; }

}  // namespace

SwtpmBridgeTpm::SwtpmBridgeTpm(std::shared_ptr<SwtpmQemuBridge> bridge, bool power_on_now)
    : bridge_(std::move(bridge)) {
  if (!bridge_) throw TpmError("SwtpmBridgeTpm: no bridge");
  tcti_ = new Tcti{};
  tcti_->common.v1.magic = kBridgeTctiMagic;
  tcti_->common.v1.version = 2;
  tcti_->common.v1.transmit = tcti_transmit;
  tcti_->common.v1.receive = tcti_receive;
  tcti_->common.v1.finalize = tcti_finalize;
  tcti_->common.v1.cancel = tcti_cancel;
  tcti_->common.v1.getPollHandles = tcti_get_poll_handles;
  tcti_->common.v1.setLocality = tcti_set_locality;
  tcti_->common.makeSticky = tcti_make_sticky;
  tcti_->bridge = bridge_.get();
  try {
    if (power_on_now) {
      power_on();
    } else {
      open_esys();
      set_locality(0);
    }
  } catch (...) {
    if (esys_) Esys_Finalize(&esys_);
    delete tcti_;
    throw;
  }
}

SwtpmBridgeTpm::~SwtpmBridgeTpm() {
  if (esys_) Esys_Finalize(&esys_);
  delete tcti_;
}

void SwtpmBridgeTpm::open_esys() {
  if (esys_) Esys_Finalize(&esys_);
  esys_ = nullptr;
  tcti_->have_response = false;
  check_rc(Esys_Initialize(&esys_, reinterpret_cast<TSS2_TCTI_CONTEXT*>(tcti_), nullptr),
           "Esys_Initialize(swtpm QEMU bridge)", locality_);
}

void SwtpmBridgeTpm::power_on() {
  bridge_->harness_init(true);
  open_esys();  // volatile TPM state is gone: so is ESAPI's
  set_locality(0);
  tpm_startup_clear(esys_, 0);
}

void SwtpmBridgeTpm::drtm_hash(const uint8_t* data, size_t n) {
  if (!bridge_->qemu_attached()) flush_transients(esys_, locality_);
  bridge_->drtm_hash(data, n);
}

void SwtpmBridgeTpm::set_locality(uint8_t locality) {
  if (locality > 4) throw TpmError("set_locality(" + std::to_string(locality) + "): localities are 0..4");
  check_rc(Tss2_Tcti_SetLocality(reinterpret_cast<TSS2_TCTI_CONTEXT*>(tcti_), locality),
           "swtpm bridge setLocality(" + std::to_string(locality) + ")", locality_);
  locality_ = locality;
}

void SwtpmBridgeTpm::resume_after_qemu(int timeout_ms) {
  if (!bridge_->wait_detached(timeout_ms))
    throw TpmError("swtpm bridge: QEMU is still attached after " + std::to_string(timeout_ms) +
                   " ms; the harness's TPM is available only once QEMU has exited");
  const std::string broken = bridge_->failure();
  if (!broken.empty()) throw TpmError("swtpm bridge is unusable after an earlier failure: " + broken);
  open_esys();
  set_locality(locality_);
}

std::string SwtpmBridgeTpm::describe() const {
  return "swtpm (QEMU bridge) pid " + std::to_string(bridge_->swtpm_pid()) + " state " + bridge_->state_dir();
}

}  // namespace redoubt::tpm
