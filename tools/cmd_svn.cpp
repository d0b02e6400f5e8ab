// `redoubt svn show|advance`: the hypervisor anti-rollback counter (an NV
// counter in the TPM). Advancing is the owner's explicit step after every
// platform runs a hypervisor with the new SVN (docs/anti-rollback.md).
#include <iostream>
#include <memory>
#include <openssl/evp.h>

#include "policy/fs/pcr_map.hpp"
#include "tools/cli_numbers.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"
#include "tools/tpm_session.hpp"

namespace redoubt::tools {

namespace {
struct SvnOptions {
  std::string tpm = "inproc", state, guest;
  bool new_tpm = false;
  uint64_t to = 0;
};
}  // namespace

void register_svn(CLI::App& app, int& exit_code) {
  CLI::App* svn = app.add_subcommand("svn", "Anti-rollback counters in TPM NV: the hypervisor's, or a guest name's (--guest)");
  svn->require_subcommand(1);
  auto o = std::make_shared<SvnOptions>();
  auto say = [](const std::string& s) { std::cout << s << "\n"; };
  for (CLI::App* c : {svn->add_subcommand("show", "Print the minimum hypervisor SVN the SL accepts"),
                      svn->add_subcommand("advance", "Raise the minimum SVN (irreversible)")}) {
    c->add_option("--tpm", o->tpm, "TPM (as for launch)")->capture_default_str();
    c->add_option("--state", o->state, "State directory");
    c->add_flag("--new-tpm", o->new_tpm, "The TPM's state is gone but its journal says a TPM was made here: manufacture a new TPM anyway (its anti-rollback counters start again; recorded in the journal and launch.json; docs/tpm-state.md)");
    c->add_option("--guest", o->guest, "A guest name (as signed in its manifest): its counter instead of the hypervisor's");
    if (c->get_name() == "advance") add_uint_option(c, "--to", o->to, "New minimum SVN")->required();
    c->callback([c, o, say, &exit_code] {
      auto tpm = open_tpm_session(o->tpm, state_dir(o->state), o->new_tpm, nullptr, say);
      uint32_t index = policy::kNvHvSvnCounter;
      uint64_t v = 0;
      if (o->guest.empty()) {
        v = ensure_svn_counter(*tpm, say);
      } else {
        // One counter per guest name at base + SHA-256(name)[0] (policy/fs/pcr_map.hpp).
        uint8_t md[32];
        unsigned len = 0;
        EVP_Digest(o->guest.data(), o->guest.size(), md, &len, EVP_sha256(), nullptr);
        index = policy::kNvGuestSvnBase + md[0];
        tpm->set_locality(0);
        v = tpm->nv_read_counter(index).value_or(0);
        if (c->get_name() == "advance" && o->to > v && !tpm->nv_read_counter(index)) {
          tpm->nv_define_counter(index);  // defined at 1
          v = tpm->nv_read_counter(index).value_or(1);
        }
      }
      if (c->get_name() == "advance") {
        if (o->to < v) {
          std::cerr << "redoubt: the counter is already " << v << "; it can never go back to " << o->to << "\n";
          exit_code = kExitRefused;
          return;
        }
        if (o->to - v > 100000) throw std::invalid_argument("--to: refusing to advance by more than 100000 steps");
        while (v < o->to) {
          tpm->nv_increment(index);
          v = tpm->nv_read_counter(index).value_or(v + 1);
        }
      }
      char idx[16];
      snprintf(idx, sizeof idx, "0x%08x", index);
      if (o->guest.empty())
        std::cout << "hypervisor anti-rollback counter (NV " << idx << "): " << v << "\n";
      else
        std::cout << "guest '" << o->guest << "' anti-rollback counter (NV " << idx << "): " << v
                  << (v == 0 ? " (not defined: no floor)" : "") << "\n";
      exit_code = kExitOk;
    });
  }
}

}  // namespace redoubt::tools
