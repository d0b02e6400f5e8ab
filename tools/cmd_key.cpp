// `redoubt key gen`: a signing key pair (P-256 or P-384) as PEM files.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "policy/host/keys.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {

void register_key(CLI::App& app, int& exit_code) {
  CLI::App* key = app.add_subcommand("key", "Signing keys");
  key->require_subcommand(1);
  auto curve = std::make_shared<std::string>("P-256");
  auto out = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  auto json_out = std::make_shared<bool>(false);
  CLI::App* gen = key->add_subcommand("gen", "Generate <out>.key.pem (PKCS#8, 0600) and <out>.pub.pem (SPKI)");
  gen->add_option("--curve", *curve, "P-256 (ES256) or P-384 (ES384)")->check(CLI::IsMember({"P-256", "P-384"}))->capture_default_str();
  gen->add_option("--out", *out, "Output prefix, e.g. keys/hv-signing")->required();
  gen->add_flag("--force", *force, "Replace an existing key pair at --out (the old private key is lost)");
  gen->add_flag("--json", *json_out, "JSON on stdout: {curve, private_key, public_key, key_id}");
  gen->callback([=, &exit_code] {
    refuse_overwrite({*out + ".key.pem", *out + ".pub.pem"}, *force, "a signing key");
    make_parent_dir(*out + ".key.pem");
    policy::generate_key_files(*curve, *out);
    policy::EvpKey k = policy::load_public_key(*out + ".pub.pem");
    if (*json_out) {
      std::cout << nlohmann::json{{"curve", *curve}, {"private_key", *out + ".key.pem"}, {"public_key", *out + ".pub.pem"},
                                  {"key_id", policy::key_id_hex(k)}}.dump(2)
                << "\n";
      exit_code = 0;
      return;
    }
    std::cout << "wrote " << *out << ".key.pem and " << *out << ".pub.pem\nkey id " << policy::key_id_hex(k) << "\n";
    exit_code = 0;
  });
}

}  // namespace redoubt::tools
