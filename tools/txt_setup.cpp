#include "tools/txt_setup.hpp"

#include <openssl/pem.h>

#include <cstdio>
#include <stdexcept>

#include "policy/host/acm_build.hpp"
#include "policy/host/keys.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {

namespace fs = std::filesystem;

TxtSetup txt_setup(const fs::path& state, const std::string& acm_path, const std::string& chipset_key_path,
                   uint16_t svn_floor, const std::function<void(const std::string&)>& say) {
  TxtSetup t;
  t.svn_floor = svn_floor;
  if (!acm_path.empty()) {
    if (chipset_key_path.empty())
      throw std::invalid_argument("--acm needs --chipset-key: the public key whose hash the simulated chipset has fused");
    t.acm = read_file(fs::absolute(acm_path), input::kHvImage);
    t.key_hash = policy::chipset_key_hash(policy::load_public_key(fs::absolute(chipset_key_path).string()));
    t.acm_source = fs::absolute(acm_path).string();
    return t;
  }
  const fs::path key_pem = state / "demo-chipset-key.pem";
  std::error_code ec;
  if (!fs::exists(key_pem, ec)) {
    fs::create_directories(state);
    policy::EvpKey k = policy::generate_chipset_key();
    FILE* f = fopen(key_pem.c_str(), "wx");
    if (!f || PEM_write_PrivateKey(f, k.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
      if (f) fclose(f);
      throw std::runtime_error("cannot write " + key_pem.string());
    }
    fclose(f);
    fs::permissions(key_pem, fs::perms::owner_read | fs::perms::owner_write, ec);
    say("[tool] made the demo chipset key (RSA-2048) " + key_pem.string());
  }
  policy::EvpKey key = policy::load_private_key(key_pem.string());
  policy::AcmOptions o;
  o.txt_svn = 2;
  t.acm = policy::build_sinit_acm(key, o);
  t.key_hash = policy::chipset_key_hash(key);
  t.acm_source = "demo SINIT ACM (TXT SVN 2) signed with " + key_pem.string();
  say("[tool] " + t.acm_source + " (" + std::to_string(t.acm.size()) + " bytes)");
  return t;
}

}  // namespace redoubt::tools
