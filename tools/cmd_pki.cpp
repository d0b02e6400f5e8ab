// `redoubt pki init DIR`: a corporate guest-signing PKI for trying issue #4 out.
// `redoubt pki verify`: the freestanding verifier (policy/fs) run on files,
// exactly as the hypervisor will run it on a guest before its first instruction.
#include <ctime>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "policy/fs/guest_manifest.hpp"
#include "policy/fs/launch_policy.hpp"
#include "policy/host/keys.hpp"
#include "policy/host/pki_build.hpp"
#include "tools/cli_numbers.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {

void register_pki(CLI::App& app, int& exit_code) {
  CLI::App* pki = app.add_subcommand("pki", "Guest-signing PKI (corporate root -> guest-signing CA -> signer)");
  pki->require_subcommand(1);

  struct InitOpts {
    std::string dir;
    bool rsa = false;
    int days = 825;
    bool force = false, json = false;
  };
  auto io = std::make_shared<InitOpts>();
  CLI::App* init = pki->add_subcommand("init", "Create root, intermediate (CA, pathlen 0) and leaf (guest-signing EKU) + owner key in DIR");
  init->add_option("dir", io->dir, "Output directory")->required();
  init->add_flag("--rsa", io->rsa, "RSA-3072 certificates and keys instead of P-256");
  init->add_flag("--force", io->force, "Replace the keys and certificates of an existing PKI in DIR");
  init->add_flag("--json", io->json, "JSON on stdout: {dir, files, algorithm, guest_signing_eku} (docs/schemas/pki-init.json)");
  add_uint_option(init, "--days", io->days, "Validity in days from now (the leaf, intermediate and root alike), 1..36500", 1, 36500);
  init->callback([io, &exit_code] {
    std::vector<std::filesystem::path> files;
    for (const char* f : policy::kPkiInitFiles) files.push_back(std::filesystem::path(io->dir) / f);
    refuse_overwrite(files, io->force, "a PKI's keys");
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    policy::PkiInitResult r = policy::pki_init(io->dir, io->rsa, now - 3600, now + int64_t{io->days} * 86400);
    exit_code = kExitOk;
    if (io->json) {
      nlohmann::json files = nlohmann::json::array();
      for (const auto& f : r.files) files.push_back(std::filesystem::path(f).string());
      std::cout << nlohmann::json{{"dir", io->dir}, {"files", files}, {"algorithm", io->rsa ? "RSA-3072" : "P-256"},
                                  {"guest_signing_eku", policy::kGuestSigningEku}}
                       .dump(2)
                << "\n";
      return;
    }
    for (const auto& f : r.files) std::cout << "wrote " << f << "\n";
    std::cout << "guest-signing EKU " << policy::kGuestSigningEku << "\n";
  });

  struct VerifyOpts {
    std::string policy, owner, manifest, kernel, initrd;
    bool json = false;
  };
  auto vo = std::make_shared<VerifyOpts>();
  CLI::App* verify = pki->add_subcommand("verify", "Verify a guest manifest + images against a signed launch policy (BearSSL path)");
  verify->add_option("--policy", vo->policy, "Signed launch policy (COSE_Sign1)")->required();
  verify->add_option("--owner", vo->owner, "Platform owner's public key (PEM) that signed the policy")->required();
  verify->add_option("--manifest", vo->manifest, "Guest manifest (COSE_Sign1 with x5chain); omit to ask about an unsigned guest");
  verify->add_option("--kernel", vo->kernel, "Kernel image");
  verify->add_option("--initrd", vo->initrd, "Initrd image");
  verify->add_flag("--json", vo->json, "JSON on stdout: {verdict, refusal, message, guest}");
  verify->callback([vo, &exit_code] {
    // One report for every outcome: the refusal is named once (the policy layer's message starts with it).
    auto report = [&](const char* verdict, policy::Refusal why, const std::string& message, nlohmann::json guest = nullptr) {
      const std::string msg = why == policy::Refusal::none ? message : policy::without_refusal_prefix(message.c_str(), why);
      if (vo->json) {
        std::cout << nlohmann::json{{"verdict", verdict},
                                    {"refusal", why == policy::Refusal::none ? nlohmann::json() : nlohmann::json(policy::refusal_name(why))},
                                    {"message", msg},
                                    {"guest", guest}}
                         .dump(2)
                  << "\n";
      } else if (why != policy::Refusal::none) {
        std::cout << verdict << " (" << policy::refusal_name(why) << "): " << msg << "\n";
      } else {
        std::cout << verdict << ": " << msg << "\n";
      }
      exit_code = why == policy::Refusal::none ? kExitOk : kExitRefused;
    };
    const std::vector<uint8_t> pol_bytes = read_file(vo->policy, input::kLaunchPolicy);
    auto lp = std::make_unique<policy::LaunchPolicy>();
    policy::Refusal why = policy::Refusal::none;
    const policy::PublicKey owner = policy::cose_public_key(policy::load_public_key(vo->owner));
    Status st = policy::launch_policy_verify(pol_bytes, owner, *lp, why);
    if (!st) return report("refused", why, st.message());
    if (vo->manifest.empty()) {
      st = policy::check_unsigned_guest(*lp, why);
      if (!st) return report("refused", why, st.message());
      return report("allowed unmeasured", policy::Refusal::none, "the policy admits unsigned guests");
    }
    if (vo->kernel.empty()) throw InputError("--kernel is required with --manifest");
    const std::vector<uint8_t> m = read_file(vo->manifest, input::kGuestManifest), k = read_file(vo->kernel, input::kGuestKernel);
    const std::vector<uint8_t> i = vo->initrd.empty() ? std::vector<uint8_t>{} : read_file(vo->initrd, input::kGuestInitrd);
    policy::GuestManifest gm;
    policy::VerifiedChain chain;
    st = policy::verify_guest(*lp, m, k, i, gm, chain, why);
    if (!st) return report("refused", why, st.message());
    const std::string signer = hex(chain.leaf_spki_sha256, 32);
    report("accepted", policy::Refusal::none,
           std::string("guest ") + gm.name + " " + gm.version + " SVN " + std::to_string(gm.svn) + ", chain of " +
               std::to_string(chain.count) + " certificate(s) to anchor " + std::to_string(chain.anchor_index) + ", signer key " + signer,
           {{"name", gm.name}, {"version", gm.version}, {"svn", gm.svn}, {"chain", chain.count}, {"anchor", chain.anchor_index},
            {"signer", signer}});
  });
}

}  // namespace redoubt::tools
