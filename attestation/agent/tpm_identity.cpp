#include "attestation/agent/tpm_identity.hpp"

#include <tss2/tss2_mu.h>
#include <tss2/tss2_sys.h>

#include <cstring>
#include <memory>

#include "attestation/agent/ek_nv.hpp"
#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "tpm/tpm_rc.hpp"

namespace redoubt::attest {

using tpm::check_rc;

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

namespace {
// swtpm_setup 0.7 persists its ECC P-384 EK here (the handle mirrors its certificate's NV index).
constexpr TPM2_HANDLE kSwtpmEccP384EkHandle = 0x81010016;

// EK Credential Profile 2.0 §B.6.4 (rev 14): PolicyA_SHA384 = PolicySecret(TPM_RH_ENDORSEMENT),
// PolicyC_SHA384, and the H-template EK authPolicy PolicyB_SHA384 = PolicyOR(A, C).
constexpr uint8_t kPolicyA384[48] = {0x8b, 0xbf, 0x22, 0x66, 0x53, 0x7c, 0x17, 0x1c, 0xb5, 0x6e, 0x40, 0x3c, 0x4d, 0xc1, 0xd4, 0xb6,
                                     0x4f, 0x43, 0x26, 0x11, 0xdc, 0x38, 0x6e, 0x6f, 0x53, 0x20, 0x50, 0xc3, 0x27, 0x8c, 0x93, 0x0e,
                                     0x14, 0x3e, 0x8b, 0xb1, 0x13, 0x38, 0x24, 0xcc, 0xb4, 0x31, 0x05, 0x38, 0x71, 0xc6, 0xdb, 0x53};
constexpr uint8_t kPolicyC384[48] = {0xd6, 0x03, 0x2c, 0xe6, 0x1f, 0x2f, 0xb3, 0xc2, 0x40, 0xeb, 0x3c, 0xf6, 0xa3, 0x32, 0x37, 0xef,
                                     0x2b, 0x6a, 0x16, 0xf4, 0x29, 0x3c, 0x22, 0xb4, 0x55, 0xe2, 0x61, 0xcf, 0xfd, 0x21, 0x7a, 0xd5,
                                     0xb4, 0x94, 0x7c, 0x2d, 0x73, 0xe6, 0x30, 0x05, 0xee, 0xd2, 0xdc, 0x2b, 0x35, 0x93, 0xd1, 0x65};
}  // namespace

void TpmIdentity::ensure_ek() {
  if (ek_ != ESYS_TR_NONE) return;
  // A TPM whose only ECC EK certificate is the P-384 one (swtpm_setup) uses that persisted EK;
  // otherwise the L-2 EK is (re)created from the endorsement seed.
  if (!tpm_.nv_defined(kNvEkCertEccP256) && tpm_.nv_defined(kNvEkCertEccP384) && tpm_.nv_defined(kSwtpmEccP384EkHandle)) {
    check_rc(Esys_TR_FromTPMPublic(tpm_.esys(), kSwtpmEccP384EkHandle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ek_),
             "TPM2_ReadPublic(0x81010016)", tpm_.locality());
    TPM2B_PUBLIC* pub = nullptr;
    check_rc(Esys_ReadPublic(tpm_.esys(), ek_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, nullptr, nullptr),
             "TPM2_ReadPublic(0x81010016)", tpm_.locality());
    ek_pub_ = *pub;
    Esys_Free(pub);
    ek_persistent_ = true;
    ek_cert_index_ = kNvEkCertEccP384;
    return;
  }
  ek_ = load_primary(ek_template_ecc_p256(), ek_pub_);
  ek_persistent_ = false;
  ek_cert_index_ = kNvEkCertEccP256;
}
uint32_t TpmIdentity::ek_cert_index() {
  ensure_ek();
  return ek_cert_index_;
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
  if (ek_ != ESYS_TR_NONE) {
    if (ek_persistent_) Esys_TR_Close(tpm_.esys(), &ek_);  // a persistent object is not flushed
    else Esys_FlushContext(tpm_.esys(), ek_);
  }
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
  const TPMI_ALG_HASH policy_alg = ek_pub_.publicArea.nameAlg;  // the EK's authPolicy is in its nameAlg
  check_rc(Esys_StartAuthSession(e, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, TPM2_SE_POLICY,
                                 &sym, policy_alg, &session),
           "TPM2_StartAuthSession(policy)", tpm_.locality());
  // EK Credential Profile §B.6.3: the EK's policy is PolicySecret(TPM_RH_ENDORSEMENT).
  TSS2_RC rc = Esys_PolicySecret(e, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, nullptr,
                                 nullptr, 0, nullptr, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_FlushContext(e, session);
    tpm::throw_tpm_rc("TPM2_PolicySecret(endorsement)", tpm_.locality(), rc);
  }
  const TPM2B_DIGEST& auth_policy = ek_pub_.publicArea.authPolicy;
  if (policy_alg == TPM2_ALG_SHA384 && auth_policy.size == 48 && std::memcmp(auth_policy.buffer, kPolicyA384, 48) != 0) {
    // H-template EK (PolicyB_SHA384): PolicyOR(PolicyA_SHA384, PolicyC_SHA384), Part 3 §23.6.
    TPML_DIGEST branches{};
    branches.count = 2;
    branches.digests[0].size = branches.digests[1].size = 48;
    std::memcpy(branches.digests[0].buffer, kPolicyA384, 48);
    std::memcpy(branches.digests[1].buffer, kPolicyC384, 48);
    rc = Esys_PolicyOR(e, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &branches);
    if (rc != TSS2_RC_SUCCESS) {
      Esys_FlushContext(e, session);
      tpm::throw_tpm_rc("TPM2_PolicyOR(EK policy B)", tpm_.locality(), rc);
    }
  }
  TPM2B_DIGEST* cert_info = nullptr;
  rc = Esys_ActivateCredential(e, ak_, ek_, ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &blob, &secret, &cert_info);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_FlushContext(e, session);  // a failed command leaves the session loaded
    tpm::throw_tpm_rc("TPM2_ActivateCredential", tpm_.locality(), rc);
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
  TPML_PCR_SELECTION pending = selection;
  std::map<TPMI_ALG_HASH, std::map<uint32_t, Bytes>> got;
  for (int guard = 0; guard < 16; ++guard) {
    bool any = false;
    for (uint32_t i = 0; i < pending.count; ++i)
      for (uint8_t b = 0; b < pending.pcrSelections[i].sizeofSelect; ++b) any |= pending.pcrSelections[i].pcrSelect[b] != 0;
    if (!any) break;
    UINT32 counter = 0;
    TPML_PCR_SELECTION* out_sel = nullptr;
    TPML_DIGEST* values = nullptr;
    check_rc(Esys_PCR_Read(tpm_.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pending, &counter, &out_sel, &values), "TPM2_PCR_Read",
             tpm_.locality());
    size_t k = 0;
    for (uint32_t i = 0; i < out_sel->count; ++i) {
      for (uint32_t p : selected_pcrs(out_sel->pcrSelections[i])) {
        if (k < values->count) got[out_sel->pcrSelections[i].hash][p].assign(values->digests[k].buffer, values->digests[k].buffer + values->digests[k].size);
        ++k;
        for (uint32_t j = 0; j < pending.count; ++j)
          if (pending.pcrSelections[j].hash == out_sel->pcrSelections[i].hash)
            pending.pcrSelections[j].pcrSelect[p / 8] &= static_cast<uint8_t>(~(1u << (p % 8)));
      }
    }
    const bool progress = k > 0;
    Esys_Free(out_sel);
    Esys_Free(values);
    if (!progress) throw AttestError("tpm", "PCR_Read returned no values for the selection " + selection_text(pending), 500);
  }
  for (uint32_t i = 0; i < selection.count; ++i)
    for (uint32_t p : selected_pcrs(selection.pcrSelections[i])) q.pcrs.values.push_back(got[selection.pcrSelections[i].hash][p]);
  return q;
}

void orderly_shutdown(tpm::TpmDevice& tpm) {
  if (tpm.esys()) Esys_Shutdown(tpm.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_SU_CLEAR);
}

TPML_PCR_SELECTION drtm_quote_selection(tpm::TpmDevice& tpm) {
  const BankList banks = tpm.active_banks();
  std::vector<TPMI_ALG_HASH> use;
  for (HashAlg want : {HashAlg::sha256, HashAlg::sha384})
    for (uint32_t i = 0; i < banks.count; ++i)
      if (banks.alg[i] == want) use.push_back(static_cast<TPMI_ALG_HASH>(want));
  if (use.empty()) throw AttestError("tpm", "the TPM has neither a sha256 nor a sha384 PCR bank", 500);
  return make_selection(use, {17, 18, 19, 20});
}

}  // namespace redoubt::attest
