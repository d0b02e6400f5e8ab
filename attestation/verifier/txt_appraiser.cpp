#include "attestation/verifier/txt_appraiser.hpp"

#include <cstring>

#include "attestation/verifier/log_event_text.hpp"

namespace redoubt::attest {

nlohmann::json appraise_txt_launch(const LaunchEvents& L, const ReferenceValues* ref, Findings& f) {
  // Digests over bytes not in the log (the ACM, the MLE): the replayed digest is the claim. The signer
  // event's data is the key itself (its digest was checked against it).
  const std::string acm = to_hex(digest_of(*L.acm, HashAlg::sha256));
  const std::string mle = to_hex(digest_of(*L.mle, HashAlg::sha256));
  const std::string signer = to_hex(digest_of(*L.sinit_signer, HashAlg::sha256));
  nlohmann::json claim = {{"acm", {{"sha256", acm}}}, {"acm_signer", signer}, {"mle", {{"sha256", mle}}}};
  std::optional<uint32_t> control;
  if (L.lcp_control) {
    if (L.lcp_control->data.size() == 4) {
      uint32_t v;
      std::memcpy(&v, L.lcp_control->data.data(), 4);  // little-endian, as SINIT measured the field
      control = v;
      claim["policy_control"] = v;
    } else {
      f.fail("txt_policy_control_malformed", event_text(*L.lcp_control) + ": PolicyControl is 4 bytes, the event carries " +
                                                 std::to_string(L.lcp_control->data.size()),
             {{"event", event_json(*L.lcp_control)}});
    }
  }
  if (L.lcp_details) claim["lcp_sha256"] = to_hex(digest_of(*L.lcp_details, HashAlg::sha256));
  if (!ref) return claim;
  if (!ref->txt_given) {
    f.fail("txt_not_referenced", "an Intel TXT launch (" + event_text(*L.acm) + "), but reference values " + ref->id +
                                     " name no SINIT ACM (\"txt\"): nothing says which ACM or signer to trust",
           {{"event", event_json(*L.acm)}});
    return claim;
  }
  if (!ref->txt_acm_sha256.count(acm))
    f.fail("txt_acm_not_allowed", event_text(*L.acm) + ": SINIT ACM " + acm + " is not in reference values " + ref->id +
                                      " (another module, or an older/revoked release of it)",
           {{"event", event_json(*L.acm)}, {"sha256", acm}});
  if (!ref->txt_acm_signers.count(signer))
    f.fail("txt_acm_signer_not_allowed", event_text(*L.sinit_signer) + ": the SINIT ACM's signing key " + signer +
                                             " is not in reference values " + ref->id,
           {{"event", event_json(*L.sinit_signer)}, {"signer", signer}});
  const std::set<std::string>& mles = ref->txt_mle_sha256.empty() ? ref->slb_sha256 : ref->txt_mle_sha256;
  if (!mles.empty() && !mles.count(mle))
    f.fail("txt_mle_not_allowed", event_text(*L.mle) + ": the MLE (sl.bin's measured bytes) " + mle + " is not in reference values " + ref->id,
           {{"event", event_json(*L.mle)}, {"sha256", mle}});
  if (!ref->txt_policy_control.empty() && (!control || !ref->txt_policy_control.count(*control)))
    f.fail("txt_policy_control_not_allowed",
           (L.lcp_control ? event_text(*L.lcp_control) + ": PolicyControl " + (control ? std::to_string(*control) : "?")
                          : std::string("no EV_TXT_LCP_CONTROL_HASH on PCR17")) +
               " is not in reference values " + ref->id,
           L.lcp_control ? nlohmann::json{{"event", event_json(*L.lcp_control)}} : nlohmann::json::object());
  return claim;
}

}  // namespace redoubt::attest
