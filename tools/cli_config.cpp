#include "tools/cli_config.hpp"

#include <CLI/CLI.hpp>

#include <stdexcept>

#include "tools/common.hpp"

namespace redoubt::tools {

void apply_config_file(CLI::App& cmd, const std::string& path) {
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_file(path);
  } catch (const CLI::ParseError& e) {
    throw InputError(path + ": " + e.what());
  }
  std::string unknown;
  for (const CLI::ConfigItem& it : items) {
    const std::string key = (it.parents.empty() ? "" : CLI::detail::join(it.parents, ".") + ".") + it.name;
    const CLI::Option* o = it.parents.empty() && it.name != "config" && it.name != "help" ? cmd.get_option_no_throw("--" + it.name) : nullptr;
    if (!o) unknown += (unknown.empty() ? "" : ", ") + key;
  }
  if (!unknown.empty())
    throw std::invalid_argument(path + ": unknown key(s) " + unknown + " (the keys are `" + cmd.get_name() +
                                "` option names without the dashes, no sections; `redoubt ... " + cmd.get_name() + " --help` lists them)");
  for (const CLI::ConfigItem& it : items) {
    CLI::Option* o = cmd.get_option_no_throw("--" + it.name);
    if (o->count() > 0) continue;  // the command line wins
    try {
      o->add_result(it.inputs);
      o->run_callback();  // the option's checks (ranges, sets) and its conversion, as on the command line
    } catch (const CLI::ParseError& e) {
      throw std::invalid_argument(path + ": key " + it.name + ": " + e.what());
    }
  }
}

}  // namespace redoubt::tools
