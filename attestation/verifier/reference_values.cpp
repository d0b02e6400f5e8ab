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
