// `--config FILE` for a subcommand (issue 13, `verifier serve`): a TOML file
// (the subset CLI11 reads: `key = value` lines, strings, integers, booleans,
// arrays; no sections) whose keys are the subcommand's long option names
// without the dashes. An option given on the command line wins over the file;
// a key that is not an option is refused, naming every such key.
#pragma once
#include <string>

namespace CLI {
class App;
}

namespace redoubt::tools {

// Applies `path` to the options of `cmd` not given on its command line (validators run as for a flag).
// Throws std::invalid_argument (usage, exit 2) naming unknown keys, sections or values a check refuses.
void apply_config_file(CLI::App& cmd, const std::string& path);

}  // namespace redoubt::tools
