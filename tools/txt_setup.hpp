// `--platform intel` (docs/intel.md "redoubt launch --platform intel"): the simulated TXT chipset's
// SINIT ACM and fuses — the demo chipset key in the state directory (RSA-2048, made on first use)
// and an ACM signed with it, or the operator's --acm with the --chipset-key whose hash is fused.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace redoubt::tools {

struct TxtSetup {
  std::vector<uint8_t> acm;
  std::array<uint8_t, 32> key_hash{};  // the chipset's fuse (TXT.PUBLIC.KEY)
  uint16_t svn_floor = 1;              // the chipset's SINIT revocation floor
  std::string acm_source;              // for launch.json
};

// acm_path/chipset_key_path empty: the demo chipset key and a fresh ACM (TXT SVN 2).
TxtSetup txt_setup(const std::filesystem::path& state, const std::string& acm_path, const std::string& chipset_key_path,
                   uint16_t svn_floor, const std::function<void(const std::string&)>& say);

}  // namespace redoubt::tools
