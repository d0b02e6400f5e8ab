// One exit-code / --json contract for every subcommand (docs/running.md, "Exit codes"; issue 15).
#pragma once
#include <CLI/CLI.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace redoubt::tools {

// `redoubt --list-commands` (hidden): every leaf subcommand of the CLI's own table, one JSON
// document {"commands": [{"path": ["key", "gen"], "json": true, "flags": ["--curve", ...]}]},
// so a test can check the contract on each without a list of its own to forget one.
void print_command_table(const CLI::App& app, std::ostream& out);

// The deepest subcommand the parser selected (the app itself when none).
const CLI::App* selected_leaf(const CLI::App& app);

// True when the selected leaf has a --json flag and the command line asked for it.
bool json_requested(const CLI::App& app, int argc, char** argv);

// The error document `--json` prints on stdout when a command ends in an error instead of
// its result: {"error": {"kind": KIND, "exit_code": N, "message": MSG, "command": "key gen"}}
// (docs/schemas/error.json).
void print_json_error(const CLI::App& app, std::ostream& out, const std::string& kind, int exit_code,
                      const std::string& message);

// `sign hypervisor|guest|policy --json`: {"wrote": OUT, "signer": KEY_ID, "manifest": <manifest show>}
// (docs/schemas/signed.json): what was signed, decoded from the bytes written.
void print_signed_json(std::ostream& out, const std::string& path, const std::string& signer_kid,
                       const std::vector<uint8_t>& cose);

}  // namespace redoubt::tools
