// One named result of an appraisal step: a failure ("contraindicated"), a
// warning, or a note (something a person should know, e.g. "endpoint rebooted").
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace redoubt::attest {

struct Finding {
  std::string code;          // stable, e.g. "pcr_replay_mismatch", "hv_svn_below_minimum"
  std::string message;       // for people, names the PCR / event / value
  nlohmann::json detail = nlohmann::json::object();  // e.g. {"event": {...}}
};

struct Findings {
  std::vector<Finding> failures, warnings, notes;
  void fail(std::string code, std::string msg, nlohmann::json d = nlohmann::json::object()) {
    failures.push_back({std::move(code), std::move(msg), std::move(d)});
  }
  void warn(std::string code, std::string msg, nlohmann::json d = nlohmann::json::object()) {
    warnings.push_back({std::move(code), std::move(msg), std::move(d)});
  }
  void note(std::string code, std::string msg, nlohmann::json d = nlohmann::json::object()) {
    notes.push_back({std::move(code), std::move(msg), std::move(d)});
  }
};

inline nlohmann::json finding_json(const Finding& f) {
  nlohmann::json j = {{"code", f.code}, {"message", f.message}};
  if (!f.detail.empty()) j["detail"] = f.detail;
  return j;
}

}  // namespace redoubt::attest
