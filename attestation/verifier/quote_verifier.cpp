#include "attestation/verifier/quote_verifier.hpp"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstring>
#include <memory>
#include <vector>

#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/quote_parse.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "attestation/verifier/public_cache.hpp"

namespace redoubt::attest {
namespace {

using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

PkeyCtx new_verify_ctx(EVP_PKEY* key, TPMI_ALG_HASH hash, int padding) {
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr), EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) <= 0) return PkeyCtx(nullptr, EVP_PKEY_CTX_free);
  if (EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_get_digestbyname(tpm_hash_ossl_name(hash))) <= 0) return PkeyCtx(nullptr, EVP_PKEY_CTX_free);
  if (padding && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), padding) <= 0) return PkeyCtx(nullptr, EVP_PKEY_CTX_free);
  if (padding == RSA_PKCS1_PSS_PADDING) EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_AUTO);
  return ctx;
}

// Per thread, the last few verification contexts (issue 13 throughput: setting one up fetches the
// algorithms from the provider, about as costly as the verification). EVP_PKEY_verify may be called
// again on a context with the same parameters (OpenSSL 3 EVP_PKEY_verify(3)). Each entry holds a
// reference to its key, so a key's address is never reused while it is cached.
struct VerifyCtxCache {
  struct Entry {
    EVP_PKEY* key = nullptr;
    TPMI_ALG_HASH hash = 0;
    int padding = 0;
    EVP_PKEY_CTX* ctx = nullptr;
  };
  Entry e[8];
  size_t next = 0;
  ~VerifyCtxCache() {
    for (Entry& x : e) drop(x);
  }
  static void drop(Entry& x) {
    EVP_PKEY_CTX_free(x.ctx);
    EVP_PKEY_free(x.key);
    x = Entry{};
  }
  EVP_PKEY_CTX* get(EVP_PKEY* key, TPMI_ALG_HASH hash, int padding) {
    for (Entry& x : e)
      if (x.key == key && x.hash == hash && x.padding == padding) return x.ctx;
    PkeyCtx c = new_verify_ctx(key, hash, padding);
    if (!c) return nullptr;
    Entry& slot = e[next++ % 8];
    drop(slot);
    EVP_PKEY_up_ref(key);
    slot = Entry{key, hash, padding, c.release()};
    return slot.ctx;
  }
};
thread_local VerifyCtxCache tl_verify;

bool verify_digest(EVP_PKEY* key, TPMI_ALG_HASH hash, std::span<const uint8_t> digest, std::span<const uint8_t> sig, int padding) {
  EVP_PKEY_CTX* ctx = tl_verify.get(key, hash, padding);
  if (!ctx) return false;
  const int r = EVP_PKEY_verify(ctx, sig.data(), sig.size(), digest.data(), digest.size());
  return r == 1;
}

}  // namespace

const char* ak_position_name(AkPosition p) {
  switch (p) {
    case AkPosition::endorsement_primary: return "endorsement-primary";
    case AkPosition::ek_child: return "ek-child";
    case AkPosition::srk_child: return "srk-child";
    case AkPosition::unknown: break;
  }
  return "unknown";
}

bool quote_signature_valid(std::span<const uint8_t> attest, std::span<const uint8_t> signature, const TPMT_PUBLIC& ak) {
  const policy::EvpKey key = public_to_evp(ak);
  return quote_signature_valid(attest, signature, ak, key.get());
}

bool quote_signature_valid(std::span<const uint8_t> attest, std::span<const uint8_t> signature, const TPMT_PUBLIC& ak, EVP_PKEY* key_of_ak) {
  const TPMT_SIGNATURE s = parse_signature(signature);
  switch (s.sigAlg) {
    case TPM2_ALG_ECDSA: {
      if (ak.type != TPM2_ALG_ECC || tpm_hash_size(s.signature.ecdsa.hash) == 0) return false;
      const Bytes digest = tpm_hash(s.signature.ecdsa.hash, attest);
      // TPMS_SIGNATURE_ECC (Part 2 §11.3.1) r, s -> DER ECDSA-Sig-Value for OpenSSL.
      std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> es(ECDSA_SIG_new(), ECDSA_SIG_free);
      BIGNUM* r = BN_bin2bn(s.signature.ecdsa.signatureR.buffer, s.signature.ecdsa.signatureR.size, nullptr);
      BIGNUM* ss = BN_bin2bn(s.signature.ecdsa.signatureS.buffer, s.signature.ecdsa.signatureS.size, nullptr);
      if (!r || !ss || !ECDSA_SIG_set0(es.get(), r, ss)) {
        BN_free(r);
        BN_free(ss);
        return false;
      }
      unsigned char* der = nullptr;
      const int n = i2d_ECDSA_SIG(es.get(), &der);
      if (n <= 0) return false;
      const bool ok = verify_digest(key_of_ak, s.signature.ecdsa.hash, digest, {der, static_cast<size_t>(n)}, 0);
      OPENSSL_free(der);
      return ok;
    }
    case TPM2_ALG_RSASSA:
    case TPM2_ALG_RSAPSS: {
      if (ak.type != TPM2_ALG_RSA || tpm_hash_size(s.signature.rsassa.hash) == 0) return false;
      const Bytes digest = tpm_hash(s.signature.rsassa.hash, attest);
      return verify_digest(key_of_ak, s.signature.rsassa.hash, digest, {s.signature.rsassa.sig.buffer, s.signature.rsassa.sig.size},
                           s.sigAlg == TPM2_ALG_RSASSA ? RSA_PKCS1_PADDING : RSA_PKCS1_PSS_PADDING);
    }
    default:
      return false;
  }
}

Bytes quote_extra_data(std::span<const uint8_t> attest) {
  const TPMS_ATTEST a = parse_attest(attest);
  return Bytes(a.extraData.buffer, a.extraData.buffer + a.extraData.size);
}

QuoteCheck verify_quote(const Evidence& ev, const QuoteExpectations& want) {
  QuoteCheck out;
  Findings& f = out.findings;
  const TPMS_ATTEST a = parse_attest(ev.quote);
  const auto akd = decode_public_cached(want.ak_public, "expected AK");  // decoded once per AK (issue 13 throughput)
  const TPM2B_PUBLIC& ak = akd->pub;
  out.pcrs = read_pcr_file(ev.pcrs);
  out.extra_data.assign(a.extraData.buffer, a.extraData.buffer + a.extraData.size);
  out.clock = {a.clockInfo.clock, a.clockInfo.resetCount, a.clockInfo.restartCount, a.clockInfo.safe == TPM2_YES};

  // Part 2 §10.12.12: magic = TPM_GENERATED_VALUE (§6.2), type = TPM_ST_ATTEST_QUOTE (§6.9).
  if (a.magic != TPM2_GENERATED_VALUE)
    f.fail("attest_magic", "magic is 0x" + to_hex(Bytes{uint8_t(a.magic >> 24), uint8_t(a.magic >> 16), uint8_t(a.magic >> 8), uint8_t(a.magic)}) +
                               ", not TPM_GENERATED_VALUE (0xff544347): not produced by a TPM");
  if (a.type != TPM2_ST_ATTEST_QUOTE) f.fail("attest_type", "type is 0x" + to_hex(Bytes{uint8_t(a.type >> 8), uint8_t(a.type)}) + ", not TPM_ST_ATTEST_QUOTE (0x8018)");

  // qualifiedSigner = the AK's Qualified Name (§10.12.12, Part 1 §16), one of the positions AKs are made in.
  const Bytes& ak_name = akd->name;
  const Bytes signer(a.qualifiedSigner.name, a.qualifiedSigner.name + a.qualifiedSigner.size);
  struct Candidate {
    AkPosition pos;
    Bytes qn;
  };
  std::vector<Candidate> candidates = {{AkPosition::endorsement_primary, akd->endorsement_primary_qn}};
  if (!want.ek_public.empty()) {  // tpm2_createak: a child of the EK, itself an endorsement primary
    const auto ek = decode_public_cached(want.ek_public, "enrolled EK");
    candidates.push_back({AkPosition::ek_child, tpm_child_qualified_name(ek->endorsement_primary_qn, ak.publicArea)});
  }
  if (!ev.ak_parent.empty()) {  // go-attestation: a child of the SRK, an owner-hierarchy primary
    const auto srk = decode_public_cached(ev.ak_parent, "ak_parent");
    candidates.push_back({AkPosition::srk_child, tpm_child_qualified_name(srk->owner_primary_qn, ak.publicArea)});
  }
  for (const Candidate& c : candidates)
    if (signer == c.qn) out.ak_position = c.pos;
  if (out.ak_position == AkPosition::unknown) {
    std::string tried;
    for (const Candidate& c : candidates) tried += (tried.empty() ? "" : ", ") + std::string(ak_position_name(c.pos)) + " " + to_hex(c.qn);
    f.fail("qualified_signer_mismatch", "qualifiedSigner " + to_hex(signer) + " is not a qualified name of the enrolled AK (" + tried + ")");
  }
  if (!(akd->key ? quote_signature_valid(ev.quote, ev.signature, ak.publicArea, akd->key.get())
                 : quote_signature_valid(ev.quote, ev.signature, ak.publicArea)))  // no key: public_to_evp throws as before
    f.fail("bad_signature", "the quote signature does not verify with the enrolled AK " + to_hex(ak_name).substr(0, 16) + "…");
  else if (out.ak_position != AkPosition::unknown)
    out.signature_ok = true;

  // extraData = the nonce this verifier issued for this quote.
  if (out.extra_data != want.nonce)
    f.fail("nonce_mismatch", "extraData " + to_hex(out.extra_data) + " is not the nonce issued (" + to_hex(want.nonce) + ")");

  // clockInfo (§10.11.1): never backwards per endpoint, safe = 1. Clock and safe are never obfuscated.
  // For an AK outside the endorsement and platform hierarchies the TPM adds a constant per key
  // (KDFa over shProof and the key's name) to resetCount and restartCount (Part 3 §18.1): their values
  // mean nothing, but their differences mod 2^32 do, so they are compared as serial numbers (RFC 1982).
  const bool obfuscated = out.ak_position == AkPosition::srk_child;
  const auto cmp = [obfuscated](uint32_t now, uint32_t prev) -> int {
    if (!obfuscated) return now < prev ? -1 : now > prev ? 1 : 0;
    const uint32_t d = now - prev;
    return d == 0 ? 0 : d < 0x80000000u ? 1 : -1;
  };
  if (!out.clock.safe)
    f.warn("clock_not_safe", "clockInfo.safe = 0: the TPM Clock may have been reported lower before (non-orderly shutdown)");
  if (want.previous) {
    const ClockState& p = *want.previous;
    const std::string ob = obfuscated ? " (obfuscated values: the AK is in the storage hierarchy)" : "";
    const std::string was = "resetCount " + std::to_string(p.reset_count) + " / restartCount " + std::to_string(p.restart_count);
    const std::string now = "resetCount " + std::to_string(out.clock.reset_count) + " / restartCount " + std::to_string(out.clock.restart_count);
    const int reset = cmp(out.clock.reset_count, p.reset_count), restart = cmp(out.clock.restart_count, p.restart_count);
    if (reset < 0) {
      f.fail("reset_count_regressed", "TPM " + now + " after " + was + ob + ": counters went backwards (TPM state rolled back or a different TPM)");
    } else if (reset > 0) {
      f.note("endpoint_rebooted", "the endpoint's TPM was reset (" + was + " -> " + now + ob +
                                      "): a new boot and a new measured launch; appraised afresh from its event log",
             {{"previous_reset_count", p.reset_count}, {"reset_count", out.clock.reset_count}});
      if (out.clock.clock < p.clock && out.clock.safe)
        f.fail("clock_regressed", "Clock " + std::to_string(out.clock.clock) + " < previously reported " + std::to_string(p.clock) + " while safe = 1");
    } else if (restart < 0) {
      f.fail("restart_count_regressed", "TPM " + now + " after " + was + ob + ": restartCount went backwards");
    } else {
      if (restart > 0)
        f.note("endpoint_resumed", "the TPM restarted without a reset (" + was + " -> " + now + ob + "): resume from suspend, PCRs preserved");
      if (out.clock.clock <= p.clock)
        f.fail("clock_regressed", "Clock " + std::to_string(out.clock.clock) + " is not after the previous quote's " + std::to_string(p.clock) +
                                      " within the same boot");
    }
  }

  // attested.quote: pcrSelect = requested, pcrDigest = H(reported PCR values) (§10.12.8, Part 3 §18.4).
  const TPMS_QUOTE_INFO& qi = a.attested.quote;
  bool pcrs_ok = true;
  if (a.type == TPM2_ST_ATTEST_QUOTE) {
    if (!same_selection(qi.pcrSelect, want.selection)) {
      f.fail("pcr_selection_mismatch", "the quote covers " + selection_text(qi.pcrSelect) + ", the verifier asked for " + selection_text(want.selection));
      pcrs_ok = false;
    }
    if (!same_selection(out.pcrs.selection, qi.pcrSelect)) {
      f.fail("pcr_values_selection_mismatch", "the reported PCR values cover " + selection_text(out.pcrs.selection) + ", the quote " + selection_text(qi.pcrSelect));
      pcrs_ok = false;
    } else {
      const Bytes quoted(qi.pcrDigest.buffer, qi.pcrDigest.buffer + qi.pcrDigest.size);
      // The digest uses the signing scheme's hash (the AK's nameAlg here; Part 3 §18.4).
      const TPMI_ALG_HASH h = ak.publicArea.type == TPM2_ALG_ECC ? ak.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg
                                                                   : ak.publicArea.parameters.rsaDetail.scheme.details.rsassa.hashAlg;
      if (tpm_hash_size(h) == 0 || out.pcrs.digest(h) != quoted) {
        f.fail("pcr_digest_mismatch", "the reported PCR values do not hash to the quote's pcrDigest " + to_hex(quoted));
        pcrs_ok = false;
      }
    }
  } else {
    pcrs_ok = false;
  }
  out.pcrs_ok = pcrs_ok;
  return out;
}

}  // namespace redoubt::attest
