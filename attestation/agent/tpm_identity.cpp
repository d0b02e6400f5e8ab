#include "attestation/agent/tpm_identity.hpp"

#include <tss2/tss2_mu.h>
#include <tss2/tss2_sys.h>

#include <cstring>
#include <memory>

#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "platform/sim/tpm/tpm_rc.hpp"

namespace redoubt::attest {

using sim::check_rc;

ESYS_TR TpmIdentity::load_primary(const TPM2B_PUBLIC& templ, TPM2B_PUBLIC& out_public) {
  TPM2B_SENSITIVE_CREATE in_sensitive{};
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION creation_pcr{};
  ESYS_TR h = ESYS_TR_NONE;
  TPM2B_PUBLIC* pub = nullptr;
  check_rc(Esys_CreatePrimary(tpm_.esys(), ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &in_sensitive,
                              &templ, &outside, &creation_pcr, &h, &pub, nullptr, nullptr, nullptr),
           "TPM2_CreatePrimary(endorsement)", tpm_.locality());
  out_public = *pub;
  Esys_Free(pub);
  return h;
}

void TpmIdentity::ensure_ek() {
  if (ek_ == ESYS_TR_NONE) ek_ = load_primary(ek_template_ecc_p256(), ek_pub_);
}
void TpmIdentity::ensure_ak() {
  if (ak_ == ESYS_TR_NONE) ak_ = load_primary(ak_template_ecc_p256(), ak_pub_);
}

const TPM2B_PUBLIC& TpmIdentity::ek_public() {
  ensure_ek();
  return ek_pub_;
}
const TPM2B_PUBLIC& TpmIdentity::ak_public() {
  ensure_ak();
  return ak_pub_;
}
Bytes TpmIdentity::ak_name() { return tpm_object_name(ak_public().publicArea); }

void TpmIdentity::release() {
  if (!tpm_.esys()) return;
  if (ek_ != ESYS_TR_NONE) Esys_FlushContext(tpm_.esys(), ek_);
  if (ak_ != ESYS_TR_NONE) Esys_FlushContext(tpm_.esys(), ak_);
  ek_ = ak_ = ESYS_TR_NONE;
}

namespace {
// libtpms has 3 session slots; sessions someone else left behind (loaded or
// context-saved) would make StartAuthSession fail with TPM_RC_SESSION_MEMORY.
void flush_stale_sessions(ESYS_CONTEXT* e) {
  TSS2_SYS_CONTEXT* sys = nullptr;
  if (Esys_GetSysContext(e, &sys) != TSS2_RC_SUCCESS || !sys) return;
  for (TPM2_HANDLE first : {TPM2_LOADED_SESSION_FIRST, TPM2_ACTIVE_SESSION_FIRST}) {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* cap = nullptr;
    if (Esys_GetCapability(e, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, first, 16, &more, &cap) != TSS2_RC_SUCCESS) continue;
    for (uint32_t i = 0; i < cap->data.handles.count; ++i) Tss2_Sys_FlushContext(sys, cap->data.handles.handle[i]);
    Esys_Free(cap);
  }
}
}  // namespace

Bytes TpmIdentity::activate_credential(const TPM2B_ID_OBJECT& blob, const TPM2B_ENCRYPTED_SECRET& secret) {
  ensure_ek();
  ensure_ak();
  ESYS_CONTEXT* e = tpm_.esys();
  flush_stale_sessions(e);
  ESYS_TR session = ESYS_TR_NONE;
  TPMT_SYM_DEF sym{};
  sym.algorithm = TPM2_ALG_NULL;
  check_rc(Esys_StartAuthSession(e, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, TPM2_SE_POLICY,
                                 &sym, TPM2_ALG_SHA256, &session),
           "TPM2_StartAuthSession(policy)", tpm_.locality());
  // EK Credential Profile §B.6.3: the EK's policy is PolicySecret(TPM_RH_ENDORSEMENT).
  TSS2_RC rc = Esys_PolicySecret(e, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, nullptr,
                                 nullptr, 0, nullptr, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_FlushContext(e, session);
    sim::throw_tpm_rc("TPM2_PolicySecret(endorsement)", tpm_.locality(), rc);
  }
  TPM2B_DIGEST* cert_info = nullptr;
  rc = Esys_ActivateCredential(e, ak_, ek_, ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &blob, &secret, &cert_info);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_FlushContext(e, session);  // a failed command leaves the session loaded
    sim::throw_tpm_rc("TPM2_ActivateCredential", tpm_.locality(), rc);
  }
  Bytes out(cert_info->buffer, cert_info->buffer + cert_info->size);
  Esys_Free(cert_info);
  return out;
}

TpmQuote TpmIdentity::quote(std::span<const uint8_t> nonce, const TPML_PCR_SELECTION& selection) {
  ensure_ak();
  TPM2B_DATA qualifying{};
  if (nonce.size() > sizeof qualifying.buffer)
    throw AttestError("bad_nonce", "nonce of " + std::to_string(nonce.size()) + " bytes (at most 64)");
  qualifying.size = static_cast<uint16_t>(nonce.size());
  std::memcpy(qualifying.buffer, nonce.data(), nonce.size());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;  // the AK's own scheme (ECDSA-SHA256)
  TPM2B_ATTEST* quoted = nullptr;
  TPMT_SIGNATURE* sig = nullptr;
  check_rc(Esys_Quote(tpm_.esys(), ak_, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qualifying, &scheme, &selection, &quoted, &sig),
           "TPM2_Quote", tpm_.locality());
  TpmQuote q;
  q.message.assign(quoted->attestationData, quoted->attestationData + quoted->size);
  Esys_Free(quoted);
  uint8_t buf[sizeof(TPMT_SIGNATURE) + 16];
  size_t off = 0;
  Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, sizeof buf, &off);
  q.signature.assign(buf, buf + off);
  Esys_Free(sig);

  // PCR_Read returns at most 8 digests per call: read until the whole selection is covered.
  q.pcrs.selection = selection;
  TPML_PCR_SELECTION todo = selection;
  std::map<TPMI_ALG_HASH, std::map<uint32_t, Bytes>> got;
  for (int guard = 0; guard < 16; ++guard) {
    bool any = false;
    for (uint32_t i = 0; i < todo.count; ++i)
      for (uint8_t b = 0; b < todo.pcrSelections[i].sizeofSelect; ++b) any |= todo.pcrSelections[i].pcrSelect[b] != 0;
    if (!any) break;
    UINT32 counter = 0;
    TPML_PCR_SELECTION* out_sel = nullptr;
    TPML_DIGEST* values = nullptr;
    check_rc(Esys_PCR_Read(tpm_.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &todo, &counter, &out_sel, &values), "TPM2_PCR_Read",
             tpm_.locality());
    size_t k = 0;
    for (uint32_t i = 0; i < out_sel->count; ++i) {
      for (uint32_t p : selected_pcrs(out_sel->pcrSelections[i])) {
        if (k < values->count) got[out_sel->pcrSelections[i].hash][p].assign(values->digests[k].buffer, values->digests[k].buffer + values->digests[k].size);
        ++k;
        for (uint32_t j = 0; j < todo.count; ++j)
          if (todo.pcrSelections[j].hash == out_sel->pcrSelections[i].hash)
            todo.pcrSelections[j].pcrSelect[p / 8] &= static_cast<uint8_t>(~(1u << (p % 8)));
      }
    }
    const bool progress = k > 0;
    Esys_Free(out_sel);
    Esys_Free(values);
    if (!progress) throw AttestError("tpm", "PCR_Read returned no values for the selection " + selection_text(todo), 500);
  }
  for (uint32_t i = 0; i < selection.count; ++i)
    for (uint32_t p : selected_pcrs(selection.pcrSelections[i])) q.pcrs.values.push_back(got[selection.pcrSelections[i].hash][p]);
  return q;
}

void orderly_shutdown(sim::TpmDevice& tpm) {
  if (tpm.esys()) Esys_Shutdown(tpm.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_SU_CLEAR);
}

TPML_PCR_SELECTION drtm_quote_selection(sim::TpmDevice& tpm) {
  const BankList banks = tpm.active_banks();
  std::vector<TPMI_ALG_HASH> use;
  for (HashAlg want : {HashAlg::sha256, HashAlg::sha384})
    for (uint32_t i = 0; i < banks.count; ++i)
      if (banks.alg[i] == want) use.push_back(static_cast<TPMI_ALG_HASH>(want));
  if (use.empty()) throw AttestError("tpm", "the TPM has neither a sha256 nor a sha384 PCR bank", 500);
  return make_selection(use, {17, 18, 19, 20});
}

}  // namespace redoubt::attest
