// `redoubt sign hypervisor`: image + key + version + SVN -> COSE_Sign1 manifest.
#include <iostream>
#include <memory>

#include "policy/host/hv_manifest_build.hpp"
#include "policy/host/keys.hpp"
#include "tools/cli_numbers.hpp"
#include "tools/cli_contract.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {

namespace {
struct SignHvOptions {
  std::string image, key, version, out, name = "redoubt-hypervisor", digest = "sha256";
  uint64_t svn = 0;
  bool force = false, json = false;
};
}  // namespace

void register_sign(CLI::App& app, int& exit_code) {
  CLI::App* sign = app.add_subcommand("sign", "Sign images");
  sign->require_subcommand(1);
  auto o = std::make_shared<SignHvOptions>();
  CLI::App* hv = sign->add_subcommand("hypervisor", "Sign a hypervisor image: writes a COSE_Sign1 manifest");
  hv->add_option("--image", o->image, "Hypervisor image (e.g. build/hv.bin)")->required();
  hv->add_option("--key", o->key, "Signing private key (PEM)")->required();
  hv->add_option("--version", o->version, "Version string (<= 31 bytes)")->required();
  add_uint_option(hv, "--svn", o->svn, "Security version number (anti-rollback), 0..2^64-1")->required();
  hv->add_option("--name", o->name, "Name (<= 63 bytes)")->capture_default_str();
  hv->add_option("--digest", o->digest, "Image digest algorithm")->check(CLI::IsMember({"sha256", "sha384"}))->capture_default_str();
  hv->add_option("--out", o->out, "Output manifest file")->required();
  hv->add_flag("--force", o->force, "Replace an existing --out");
  hv->add_flag("--json", o->json, "JSON on stdout: {wrote, signer, manifest} (docs/schemas/signed.json)");
  hv->callback([o, &exit_code] {
    refuse_overwrite({o->out}, o->force, "a manifest");
    std::vector<uint8_t> image = read_file(o->image, input::kHvImage);
    policy::EvpKey key = policy::load_private_key(o->key);
    policy::HvManifestInput in;
    in.name = o->name;
    in.version = o->version;
    in.svn = o->svn;
    in.digest_alg = o->digest == "sha384" ? HashAlg::sha384 : HashAlg::sha256;
    const std::vector<uint8_t> manifest = policy::sign_hv_manifest(image, in, key);
    write_file(o->out, manifest);
    exit_code = kExitOk;
    if (o->json) return print_signed_json(std::cout, o->out, policy::key_id_hex(key), manifest);
    std::cout << "signed " << o->image << " (" << image.size() << " bytes) as " << o->name << " " << o->version
              << " SVN " << o->svn << " with key " << policy::key_id_hex(key) << "\nwrote " << o->out << "\n";
  });
  register_sign_guest(sign, exit_code);   // issue #4: guest manifests
  register_sign_policy(sign, exit_code);  // issue #4: launch policies
  register_sign_acm(sign, exit_code);     // issue 12: the simulated SINIT ACM (docs/intel.md)
}

}  // namespace redoubt::tools
