#include "policy/host/manifest_json.hpp"

#include <string>

#include "policy/fs/cbor.hpp"
#include "policy/fs/cose.hpp"
#include "policy/fs/guest_manifest.hpp"
#include "policy/fs/hv_manifest.hpp"
#include "policy/fs/launch_policy.hpp"
#include "policy/host/hv_manifest_build.hpp"
#include "policy/host/pki_json.hpp"

#include "policy/host/host_io.hpp"

namespace redoubt::policy {
namespace {

// The labels we show from a header map (alg, kid); the parser already validated it.
nlohmann::json header_json(std::span<const uint8_t> map_bytes) {
  nlohmann::json j = nlohmann::json::object();
  CborReader r(map_bytes);
  uint64_t n = 0;
  if (!r.read_map(n)) return j;
  for (uint64_t i = 0; i < n; ++i) {
    int64_t label;
    if (!r.read_int(label)) {
      if (!r.skip() || !r.skip()) break;
      continue;
    }
    if (label == 1) {
      int64_t alg = 0;
      if (!r.read_int(alg)) break;
      const char* name = cose_alg_name(static_cast<CoseAlg>(alg));
      j["alg"] = std::string(name) == "unknown" ? nlohmann::json(alg) : nlohmann::json(name);
    } else if (label == 4) {
      std::span<const uint8_t> kid;
      if (!r.read_bytes(kid)) break;
      j["kid"] = hex(kid);
    } else {
      if (!r.skip()) break;
      j["label " + std::to_string(label)] = "(not shown)";
    }
  }
  return j;
}

}  // namespace

nlohmann::json manifest_to_json(std::span<const uint8_t> cose_bytes) {
  // Guest manifests and launch policies (issue #4) have their own views.
  const std::string type = cose_payload_type(cose_bytes);
  if (type == kGuestManifestType) return guest_manifest_to_json(cose_bytes);
  if (type == kLaunchPolicyType) return launch_policy_to_json(cose_bytes);
  CoseSign1 msg;
  Status st = cose_sign1_parse(cose_bytes, msg);
  if (!st) throw ManifestError(std::string("manifest: ") + st.message());
  HvManifest m;
  st = hv_manifest_decode(msg.payload, m);
  if (!st) throw ManifestError(std::string("manifest: ") + st.message());

  nlohmann::json j;
  j["protected"] = header_json(msg.protected_bstr);
  // The unprotected map sits right after the protected bstr; re-read it.
  {
    CborReader r(cose_bytes);
    CborType t;
    uint64_t v;
    std::span<const uint8_t> b;
    if (r.peek_type(t) && t == CborType::tag) (void)r.read_tag(v);
    (void)r.read_array(v);
    (void)r.read_bytes(b);
    const size_t start = r.offset();
    if (r.skip()) j["unprotected"] = header_json(cose_bytes.subspan(start, r.offset() - start));
  }
  j["payload"] = {
      {"type", kHvManifestType},
      {"name", m.name},
      {"version", m.version},
      {"svn", m.svn},
      {"digest_alg", hash_alg_name(m.digest_alg)},
      {"digest", hex({m.digest, digest_size(m.digest_alg)})},
      {"size", m.image_size},
      {"signer", hex(m.signer_kid)},
  };
  j["signature"] = hex(msg.signature);
  return j;
}

}  // namespace redoubt::policy
