// `redoubt svn show|advance`: the hypervisor anti-rollback counter (an NV
// counter in the TPM). Advancing is the owner's explicit step after every
// platform runs a hypervisor with the new SVN (docs/anti-rollback.md).
#include <unistd.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
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
  bool new_tpm = false, yes = false, json = false;
  uint64_t to = 0;
};

// svn advance is irreversible (a TPM NV counter never goes back): it says what it will do and
// needs --yes, or "yes" typed on a terminal. Returns whether to go on.
bool confirm_advance(const SvnOptions& o, uint64_t from) {
  const std::string who = o.guest.empty() ? "the hypervisor's" : "guest '" + o.guest + "''s";
  std::cerr << "This raises " << who << " minimum SVN from " << from << " to " << o.to << " on this platform's TPM"
            << (o.state.empty() ? "" : " (--state " + o.state + ")") << ": every "
            << (o.guest.empty() ? "hypervisor" : "guest") << " signed with a lower SVN is refused from now on, and a TPM "
            << "counter can never be lowered again (docs/anti-rollback.md).\n";
  if (o.yes) return true;
  if (!isatty(STDIN_FILENO)) throw std::invalid_argument("svn advance: irreversible; add --yes to confirm (stdin is not a terminal)");
  std::cerr << "Type yes to advance: " << std::flush;
  std::string line;
  std::getline(std::cin, line);
  return line == "yes";
}
}  // namespace

void register_svn(CLI::App& app, int& exit_code) {
  CLI::App* svn = app.add_subcommand("svn", "Anti-rollback counters in TPM NV: the hypervisor's, or a guest name's (--guest)");
  svn->require_subcommand(1);
  auto o = std::make_shared<SvnOptions>();
  auto say = [o](const std::string& s) { (o->json ? std::cerr : std::cout) << s << "\n"; };  // stdout stays JSON
  for (CLI::App* c : {svn->add_subcommand("show", "Print the minimum hypervisor SVN the SL accepts"),
                      svn->add_subcommand("advance", "Raise the minimum SVN (irreversible)")}) {
    c->add_option("--tpm", o->tpm, "TPM (as for launch)")->capture_default_str();
    c->add_option("--state", o->state, "State directory");
    c->add_flag("--new-tpm", o->new_tpm, "The TPM's state is gone but its journal says a TPM was made here: manufacture a new TPM anyway (its anti-rollback counters start again; recorded in the journal and launch.json; docs/tpm-state.md)");
    c->add_option("--guest", o->guest, "A guest name (as signed in its manifest): its counter instead of the hypervisor's");
    c->add_flag("--json", o->json, "JSON on stdout: {counter, guest, nv_index, value, previous}");
    if (c->get_name() == "advance") {
      add_uint_option(c, "--to", o->to, "New minimum SVN")->required();
      c->add_flag("--yes", o->yes, "Confirm the irreversible step (needed when stdin is not a terminal)");
    }
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
      }
      const uint64_t previous = v;
      if (c->get_name() == "advance") {
        if (o->to < v) {
          std::cerr << "redoubt: the counter is already " << v << "; it can never go back to " << o->to << "\n";
          exit_code = kExitRefused;
          return;
        }
        if (o->to - v > 100000) throw std::invalid_argument("--to: refusing to advance by more than 100000 steps");
        if (o->to > v && !confirm_advance(*o, v)) {
          std::cerr << "redoubt: not confirmed; the counter stays at " << v << "\n";
          exit_code = kExitRefused;
          return;
        }
        if (!o->guest.empty() && o->to > v && !tpm->nv_read_counter(index)) {
          tpm->nv_define_counter(index);  // defined at 1
          v = tpm->nv_read_counter(index).value_or(1);
        }
        while (v < o->to) {
          tpm->nv_increment(index);
          v = tpm->nv_read_counter(index).value_or(v + 1);
        }
      }
      char idx[16];
      snprintf(idx, sizeof idx, "0x%08x", index);
      if (o->json) {
        nlohmann::json j = {{"counter", o->guest.empty() ? "hypervisor" : "guest"}, {"nv_index", idx}, {"value", v},
                            {"previous", previous}};
        j["guest"] = o->guest.empty() ? nlohmann::json() : nlohmann::json(o->guest);
        std::cout << j.dump(2) << "\n";
      } else if (o->guest.empty())
        std::cout << "hypervisor anti-rollback counter (NV " << idx << "): " << v << "\n";
      else
        std::cout << "guest '" << o->guest << "' anti-rollback counter (NV " << idx << "): " << v
                  << (v == 0 ? " (not defined: no floor)" : "") << "\n";
      exit_code = kExitOk;
    });
  }
}

}  // namespace redoubt::tools
