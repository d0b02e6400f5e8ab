// The exit-code / --json contract shared by every subcommand (docs/running.md, "Exit codes").
#include "tools/cli_contract.hpp"

#include <cstring>
#include <nlohmann/json.hpp>

#include "policy/host/manifest_json.hpp"

namespace redoubt::tools {
namespace {

using nlohmann::json;

void walk(const CLI::App& a, std::vector<std::string>& path, json& out) {
  auto subs = a.get_subcommands([](const CLI::App*) { return true; });
  if (subs.empty() && !path.empty()) {
    json flags = json::array();
    bool has_json = false;
    for (const CLI::Option* o : a.get_options()) {
      for (const std::string& n : o->get_lnames()) {
        flags.push_back("--" + n);
        if (n == "json") has_json = true;
      }
    }
    out.push_back({{"path", path}, {"json", has_json}, {"flags", flags}});
    return;
  }
  for (const CLI::App* s : subs) {
    path.push_back(s->get_name());
    walk(*s, path, out);
    path.pop_back();
  }
}

std::string command_name(const CLI::App& app) {
  std::string name;
  for (const CLI::App* a = &app;;) {
    auto parsed = a->get_subcommands();
    if (parsed.empty()) break;
    a = parsed.front();
    name += (name.empty() ? "" : " ") + a->get_name();
  }
  return name;
}

}  // namespace

void print_command_table(const CLI::App& app, std::ostream& out) {
  json cmds = json::array();
  std::vector<std::string> path;
  walk(app, path, cmds);
  out << json{{"commands", cmds}}.dump(2) << "\n";
}

const CLI::App* selected_leaf(const CLI::App& app) {
  const CLI::App* a = &app;
  for (auto parsed = a->get_subcommands(); !parsed.empty(); parsed = a->get_subcommands()) a = parsed.front();
  return a;
}

bool json_requested(const CLI::App& app, int argc, char** argv) {
  const CLI::App* leaf = selected_leaf(app);
  if (leaf == &app || leaf->get_option_no_throw("--json") == nullptr) return false;
  // The flag's count is set when parsing reached it; a parse that stopped earlier (an unknown
  // flag before it) still ran with --json on its command line.
  if (leaf->get_option_no_throw("--json")->count() > 0) return true;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--json") == 0) return true;
  return false;
}

void print_json_error(const CLI::App& app, std::ostream& out, const std::string& kind, int exit_code,
                      const std::string& message) {
  json e = {{"kind", kind}, {"exit_code", exit_code}, {"message", message}, {"command", command_name(app)}};
  out << json{{"error", e}}.dump(2) << "\n";
}

void print_signed_json(std::ostream& out, const std::string& path, const std::string& signer_kid,
                       const std::vector<uint8_t>& cose) {
  out << json{{"wrote", path}, {"signer", signer_kid}, {"manifest", policy::manifest_to_json(cose)}}.dump(2) << "\n";
}

}  // namespace redoubt::tools
