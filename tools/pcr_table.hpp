// PCR values as pcrs.json and as a table for people.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "platform/hal/digest.hpp"

namespace redoubt::tools {

using PcrValues = std::map<HashAlg, std::map<uint32_t, std::vector<uint8_t>>>;

// {"sha256": {"17": "<hex>", ...}, "sha1": {...}}
nlohmann::json pcrs_to_json(const PcrValues& v);
std::string format_pcr_table(const PcrValues& v);

}  // namespace redoubt::tools
