// How findings name a DRTM log event: "event #N (PCRp, TYPE, sha256 …)" for
// people and {"index", "pcr", "type", "type_id", "sha256"} for programs.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "attestation/common/encoding.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/eventlog_reader.hpp"

namespace redoubt::attest {

inline Bytes digest_of(const policy::LogEvent& e, HashAlg a) {
  for (const auto& [alg, d] : e.digests)
    if (alg == a) return d;
  return {};
}

inline nlohmann::json event_json(const policy::LogEvent& e) {
  return {{"index", e.index},
          {"pcr", e.pcr},
          {"type", policy::event_type_name(e.type)},
          {"type_id", e.type},
          {"sha256", to_hex(digest_of(e, HashAlg::sha256))}};
}

inline std::string event_text(const policy::LogEvent& e) {
  return "event #" + std::to_string(e.index) + " (PCR" + std::to_string(e.pcr) + ", " + policy::event_type_name(e.type) + ", sha256 " +
         to_hex(digest_of(e, HashAlg::sha256)).substr(0, 16) + "…)";
}

}  // namespace redoubt::attest
