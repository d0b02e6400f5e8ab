#include "policy/fs/launch_policy_envelope.hpp"

#include "policy/fs/cbor.hpp"
#include "policy/fs/cbor_strict.hpp"

namespace redoubt::policy {

Status launch_policy_open(std::span<const uint8_t> cose, const PublicKey& owner, LaunchPolicyEnvelope& out) {
  out = LaunchPolicyEnvelope{};
  CoseSign1 msg;
  Status st = cose_sign1_parse(cose, msg);
  if (!st) return Status::fail(st.code(), "launch policy: %s", st.message());
  st = cose_sign1_verify(msg, owner);
  if (!st) return Status::fail(st.code(), "launch policy: %s", st.message());
  return launch_policy_walk(msg.payload, out);
}

Status launch_policy_walk(std::span<const uint8_t> payload, LaunchPolicyEnvelope& out) {
  out = LaunchPolicyEnvelope{};
  out.payload = payload;
  CborReader r(payload);
  StrictMap m(r, "launch policy payload", 63);
  uint64_t n;
  REDOUBT_TRY(m.open(n));
  bool typed = false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t k;
    REDOUBT_TRY(m.key(k));
    if (k == 1) {
      std::span<const uint8_t> t;
      REDOUBT_TRY(r.read_text(t));
      if (!text_is(t, "redoubt.launch-policy/1"))
        return Status::fail(Err::malformed, "launch policy: type is not \"redoubt.launch-policy/1\"");
      typed = true;
    } else if (k == 5) {
      uint64_t c;
      REDOUBT_TRY(r.read_array(c));
      if (c == 0 || c > kMaxPolicyAnchors)
        return Status::fail(Err::malformed, "launch policy: %llu trust anchors (1..%zu allowed)",
                            static_cast<unsigned long long>(c), kMaxPolicyAnchors);
      for (uint64_t a = 0; a < c; ++a) {
        Status s = r.read_bytes(out.anchors[a]);
        if (!s) return Status::fail(Err::malformed, "launch policy: anchor %llu: %s", static_cast<unsigned long long>(a), s.message());
      }
      out.anchor_count = c;
    } else {
      REDOUBT_TRY(r.skip());
    }
  }
  if (!typed) return Status::fail(Err::malformed, "launch policy: missing key 1 (type)");
  if (out.anchor_count == 0) return Status::fail(Err::malformed, "launch policy: missing key 5 (anchors)");
  if (!r.at_end()) return Status::fail(Err::malformed, "launch policy: %zu trailing bytes after the payload map", r.rest().size());
  return Status::ok();
}

}  // namespace redoubt::policy
