#include "tools/pcr_table.hpp"

#include <sstream>

#include "tools/common.hpp"

namespace redoubt::tools {

nlohmann::json pcrs_to_json(const PcrValues& v) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [alg, pcrs] : v)
    for (const auto& [pcr, d] : pcrs) j[hash_alg_name(alg)][std::to_string(pcr)] = hex(d);
  return j;
}

static const char* role(uint32_t pcr) {
  switch (pcr) {
    case 17: return "DRTM detail: SLB, hypervisor manifest + image, launch policy";
    case 18: return "DRTM authority: hypervisor signer, guest trust anchors";
    case 19: return "guest authorities: signer chains (or refusals)";
    case 20: return "guest details: manifests (or refusals)";
    default: return "";
  }
}

static std::string describe(const std::vector<uint8_t>& d) {
  bool ones = true, zeros = true;
  for (uint8_t b : d) {
    ones &= b == 0xFF;
    zeros &= b == 0;
  }
  if (ones) return " (all ones: no dynamic launch)";
  if (zeros) return " (zero)";
  return "";
}

std::string format_pcr_table(const PcrValues& v) {
  std::ostringstream s;
  s << "PCR  bank    value\n";
  for (const auto& [alg, pcrs] : v) {
    if (alg != HashAlg::sha256) continue;  // the table shows sha256; pcrs.json has every bank
    for (const auto& [pcr, d] : pcrs) {
      if (pcr < 17 || pcr > 20) continue;
      s << (pcr < 10 ? " " : "") << pcr << "   " << hash_alg_name(alg) << "  " << hex(d) << describe(d) << "\n"
        << "                 " << role(pcr) << "\n";
    }
  }
  return s.str();
}

}  // namespace redoubt::tools
