#include "attestation/verifier/reference_values.hpp"

#include <algorithm>

#include "attestation/common/attest_error.hpp"
#include "policy/fs/cose.hpp"
#include "policy/host/cose_sign.hpp"

namespace redoubt::attest {
namespace {

[[noreturn]] void bad(const std::string& why) { throw AttestError("bad_reference_values", why); }

std::set<std::string> hex_set(const nlohmann::json& parent, const char* key, const char* where, size_t bytes) {
  std::set<std::string> out;
  if (!parent.contains(key)) return out;
  const auto& a = parent.at(key);
  if (!a.is_array()) bad(std::string(where) + "." + key + " must be an array of hex strings");
  for (const auto& v : a) {
    if (!v.is_string()) bad(std::string(where) + "." + key + " must be an array of hex strings");
    std::string s = v.get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (from_hex(s, key).size() != bytes) bad(std::string(where) + "." + key + ": \"" + s + "\" is not " + std::to_string(bytes) + " bytes");
    out.insert(s);
  }
  return out;
}

uint64_t uint_member(const nlohmann::json& o, const char* key, const std::string& where) {
  const auto& v = o.at(key);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) bad(where + "." + key + " must be an unsigned integer");
  return v.get<uint64_t>();
}

bool bool_member(const nlohmann::json& o, const char* key, const std::string& where) {
  if (!o.at(key).is_boolean()) bad(where + "." + key + " must be true or false");
  return o.at(key).get<bool>();
}

void parse_launch_policy(const nlohmann::json& lp, ReferenceValues& r) {
  if (lp.is_null()) return;
  if (!lp.is_object()) bad("\"launch_policy\" must be an object or null");
  r.launch_policy_sha256 = hex_set(lp, "sha256", "launch_policy", 32);
  r.launch_policy_required = !r.launch_policy_sha256.empty();
  if (lp.contains("required")) r.launch_policy_required = bool_member(lp, "required", "launch_policy");
  if (!r.launch_policy_required && !r.launch_policy_sha256.empty()) bad("launch_policy.required cannot be false when launch_policy.sha256 lists digests");
  if (lp.contains("min_serial")) r.launch_policy_min_serial = uint_member(lp, "min_serial", "launch_policy");
}

void parse_guests(const nlohmann::json& g, ReferenceValues& r) {
  if (g.is_null()) return;
  if (!g.is_object()) bad("\"guests\" must be an object or null");
  r.guests_given = true;
  r.guest_anchors = hex_set(g, "anchors", "guests", 32);
  r.guest_signers = hex_set(g, "signers", "guests", 32);
  if (g.contains("allow_unsigned")) r.allow_unsigned_guests = bool_member(g, "allow_unsigned", "guests");
  if (!g.contains("rules")) return;
  if (!g["rules"].is_object()) bad("guests.rules must be an object {\"<guest name>\": {\"min_svn\": N, \"kernel_sha256\": [...]}}");
  for (const auto& [name, rule] : g["rules"].items()) {
    const std::string where = "guests.rules[\"" + name + "\"]";
    if (name.empty() || name.size() > 63) bad(where + ": a guest name is 1..63 bytes (docs/pki.md §4)");
    if (!rule.is_object()) bad(where + " must be an object");
    ReferenceValues::GuestRule gr;
    if (rule.contains("min_svn")) gr.min_svn = uint_member(rule, "min_svn", where);
    gr.kernel_sha256 = hex_set(rule, "kernel_sha256", where.c_str(), 32);
    r.guest_rules[name] = gr;
  }
}

void parse_drtm(const nlohmann::json& d, ReferenceValues& r) {
  if (d.is_null()) return;
  if (!d.is_object()) bad("\"drtm\" must be an object {\"allow_emulated\": true|false} or null");
  if (d.contains("allow_emulated")) r.drtm_allow_emulated = bool_member(d, "allow_emulated", "drtm");
}

void parse_txt(const nlohmann::json& t, ReferenceValues& r) {
  if (t.is_null()) return;
  if (!t.is_object()) bad("\"txt\" must be an object or null");
  r.txt_given = true;
  r.txt_acm_sha256 = hex_set(t, "acm_sha256", "txt", 32);
  r.txt_acm_signers = hex_set(t, "acm_signers", "txt", 32);
  r.txt_mle_sha256 = hex_set(t, "mle_sha256", "txt", 32);
  if (r.txt_acm_sha256.empty() || r.txt_acm_signers.empty()) bad("txt.acm_sha256 and txt.acm_signers must each name at least one value");
  if (t.contains("policy_control")) {
    if (!t["policy_control"].is_array()) bad("txt.policy_control must be an array of unsigned 32-bit integers");
    for (const auto& v : t["policy_control"]) {
      if (!v.is_number_unsigned() || v.get<uint64_t>() > 0xFFFFFFFFu) bad("txt.policy_control must be an array of unsigned 32-bit integers");
      r.txt_policy_control.insert(v.get<uint32_t>());
    }
  }
}

}  // namespace

ReferenceValues parse_reference_values(const nlohmann::json& j) {
  if (!j.is_object()) bad("the payload must be a JSON object");
  if (!j.contains("type") || j["type"] != kReferenceValuesType) bad(std::string("\"type\" must be \"") + kReferenceValuesType + "\"");
  if (!j.contains("id") || !j["id"].is_string() || j["id"].get<std::string>().empty()) bad("\"id\" must be a non-empty string");
  ReferenceValues r;
  r.id = j["id"];
  r.document = j;
  if (j.contains("hypervisor")) {
    const auto& h = j["hypervisor"];
    if (!h.is_object()) bad("\"hypervisor\" must be an object");
    r.hv_signers = hex_set(h, "signers", "hypervisor", 32);
    r.hv_sha256 = hex_set(h, "sha256", "hypervisor", 32);
    if (h.contains("min_svn")) {
      if (!h["min_svn"].is_number_integer() || h["min_svn"].get<int64_t>() < 0) bad("hypervisor.min_svn must be an unsigned integer");
      r.min_svn = h["min_svn"].get<uint64_t>();
    }
  }
  if (r.hv_signers.empty()) bad("hypervisor.signers must name at least one allowed hypervisor signer");
  if (j.contains("slb")) {
    if (!j["slb"].is_object()) bad("\"slb\" must be an object");
    r.slb_sha256 = hex_set(j["slb"], "sha256", "slb", 32);
  }
  if (j.contains("launch_policy")) parse_launch_policy(j["launch_policy"], r);
  if (j.contains("guests")) parse_guests(j["guests"], r);
  if (j.contains("drtm")) parse_drtm(j["drtm"], r);
  if (j.contains("txt")) parse_txt(j["txt"], r);
  return r;
}

Bytes sign_reference_values(const nlohmann::json& payload, const policy::EvpKey& authority) {
  parse_reference_values(payload);  // never sign something the verifier would refuse
  const std::string text = payload.dump();
  return policy::cose_sign1_sign({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, authority);
}

ReferenceValues verify_reference_values(std::span<const uint8_t> cose, const policy::EvpKey& authority) {
  policy::CoseSign1 msg;
  Status st = policy::cose_sign1_parse(cose, msg);
  if (!st) throw AttestError("bad_reference_values", std::string("not a COSE_Sign1: ") + st.message());
  st = policy::cose_sign1_verify(msg, policy::cose_public_key(authority));
  if (!st) throw AttestError("reference_values_signature", std::string("reference values not signed by the policy authority: ") + st.message());
  nlohmann::json j = nlohmann::json::parse(msg.payload.begin(), msg.payload.end(), nullptr, false);
  if (j.is_discarded()) bad("the COSE payload is not JSON");
  return parse_reference_values(j);
}

}  // namespace redoubt::attest
