#include "attestation/common/evidence.hpp"

#include "attestation/common/json_fast.hpp"

#include "attestation/common/attest_error.hpp"

namespace redoubt::attest {

const std::string& json_string(const nlohmann::json& j, const char* field) {
  if (!j.is_object()) throw AttestError("bad_request", "the body must be a JSON object");
  auto it = j.find(field);
  if (it == j.end()) throw AttestError("bad_request", std::string("missing field \"") + field + "\"");
  if (!it->is_string()) throw AttestError("bad_request", std::string("field \"") + field + "\" must be a string");
  return it->get_ref<const std::string&>();
}

Bytes json_base64(const nlohmann::json& j, const char* field, size_t max_bytes) {
  const std::string& s = json_string(j, field);
  if (s.size() > (max_bytes + 2) / 3 * 4)
    throw AttestError("too_large", std::string("field \"") + field + "\" exceeds " + std::to_string(max_bytes) + " bytes", 413);
  return from_base64(s, field);
}

nlohmann::json parse_json_body(const std::string& body) {
  if (auto flat = parse_flat_json(body)) return std::move(*flat);  // the common shape, scanned fast (json_fast.hpp)
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) throw AttestError("malformed_json", "the request body is not valid JSON");
  if (!j.is_object()) throw AttestError("malformed_json", "the request body must be a JSON object");
  return j;
}

nlohmann::json evidence_to_json(const Evidence& e) {
  nlohmann::json j = {{"quote", to_base64(e.quote)},
                      {"signature", to_base64(e.signature)},
                      {"pcrs", to_base64(e.pcrs)},
                      {"eventlog", to_base64(e.eventlog)},
                      {"ak_public", to_base64(e.ak_public)}};
  if (!e.ak_parent.empty()) j["ak_parent"] = to_base64(e.ak_parent);
  return j;
}

Evidence evidence_from_json(const nlohmann::json& j) {
  Evidence e;
  e.quote = json_base64(j, "quote", 4096);
  e.signature = json_base64(j, "signature", 4096);
  e.pcrs = json_base64(j, "pcrs", 32 * 1024);
  e.eventlog = json_base64(j, "eventlog", 1024 * 1024);
  e.ak_public = json_base64(j, "ak_public", 4096);
  if (j.contains("ak_parent")) e.ak_parent = json_base64(j, "ak_parent", 4096);
  return e;
}

}  // namespace redoubt::attest
