// `redoubt sign acm`: a simulated SINIT ACM (policy/host/acm_build.hpp, docs/intel.md) signed with a
// chipset key (RSA-2048 private key PEM, e.g. `openssl genrsa -out chipset.pem 2048`).
#include <iostream>
#include <memory>

#include "policy/host/acm_build.hpp"
#include "policy/host/keys.hpp"
#include "tools/cli_contract.hpp"
#include "tools/cli_numbers.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {

namespace {
struct SignAcmOptions {
  std::string key, out;
  uint64_t svn = 1;
  bool force = false;
};

std::string hex_bytes(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += {d[p[i] >> 4], d[p[i] & 15]};
  return s;
}
}  // namespace

void register_sign_acm(CLI::App* sign, int& exit_code) {
  auto o = std::make_shared<SignAcmOptions>();
  CLI::App* c = sign->add_subcommand("acm", "Build a simulated SINIT ACM signed with a chipset key (RSA-2048)");
  c->add_option("--key", o->key, "Chipset signing key: RSA-2048 private key PEM")->required();
  add_uint_option(c, "--svn", o->svn, "TXT SVN in the ACM header (the chipset refuses one below its floor), 0..65535")
      ->capture_default_str();
  c->add_option("--out", o->out, "Output ACM file")->required();
  c->add_flag("--force", o->force, "Replace an existing --out");
  c->callback([o, &exit_code] {
    if (o->svn > 0xFFFF) throw std::invalid_argument("--svn " + std::to_string(o->svn) + ": the header's TXT SVN is 16 bits");
    refuse_overwrite({o->out}, o->force, "an ACM");
    policy::EvpKey key = policy::load_private_key(o->key);
    policy::AcmOptions ao;
    ao.txt_svn = static_cast<uint16_t>(o->svn);
    std::vector<uint8_t> acm = policy::build_sinit_acm(key, ao);
    write_file(o->out, acm);
    auto h = policy::chipset_key_hash(key);
    std::cout << "wrote " << o->out << " (" << acm.size() << " bytes, TXT SVN " << o->svn << ")\nchipset key hash (fuse) "
              << hex_bytes(h.data(), h.size()) << "\n";
    exit_code = kExitOk;
  });
}

}  // namespace redoubt::tools
