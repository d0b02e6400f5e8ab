// Each subcommand registers itself on the CLI11 app and stores the exit code.
#pragma once
#include <CLI/CLI.hpp>

namespace redoubt::tools {

void register_launch(CLI::App& app, int& exit_code);
void register_run(CLI::App& app, int& exit_code);
void register_key(CLI::App& app, int& exit_code);
void register_sign(CLI::App& app, int& exit_code);
void register_manifest(CLI::App& app, int& exit_code);
void register_eventlog(CLI::App& app, int& exit_code);
void register_svn(CLI::App& app, int& exit_code);
void register_slb(CLI::App& app, int& exit_code);
void register_quote(CLI::App& app, int& exit_code);
void register_endpoint(CLI::App& app, int& exit_code);
void register_verifier(CLI::App& app, int& exit_code);
void register_attest(CLI::App& app, int& exit_code);
// Guest PKI (issue #4): `pki init|verify`, `sign guest`, `sign policy` (the latter two under `sign`).
void register_pki(CLI::App& app, int& exit_code);
// Issue 11: `attack list|run` (tools/attacks/, docs/isolation.md).
void register_attack(CLI::App& app, int& exit_code);
// Issue 15: `doctor` (what this machine lacks, and how to fix it).
void register_doctor(CLI::App& app, int& exit_code);
// Issue 14: `report` (plots of runs and exit traces, tools/research/).
void register_report(CLI::App& app, int& exit_code);
void register_sign_guest(CLI::App* sign, int& exit_code);
void register_sign_policy(CLI::App* sign, int& exit_code);
void register_sign_acm(CLI::App* sign, int& exit_code);  // issue 12: the simulated SINIT ACM

}  // namespace redoubt::tools
