// `redoubt report RUN_DIR... --out DIR`: plots and a one-page report of `redoubt run`
// output (with `--trace`, the exit traces too). The plotting is matplotlib's
// (tools/research/redoubt_report.py, copied next to this binary by the build);
// this command finds it and runs it with python3. docs/research.md.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {
namespace {

namespace fs = std::filesystem;

struct ReportOptions {
  std::vector<std::string> runs;
  std::string out;
  bool json = false;
};

fs::path report_script() {
  // The build copies the script to <build>/share/redoubt/; an installed tree has it in
  // <prefix>/share/redoubt/ next to <prefix>/bin.
  for (const fs::path& p : {build_dir() / "share/redoubt/redoubt_report.py",
                            build_dir().parent_path() / "share/redoubt/redoubt_report.py"})
    if (fs::exists(p)) return p;
  throw InputError("redoubt report: tools/research/redoubt_report.py is not installed next to this binary (" +
                   build_dir().string() + "/share/redoubt/); rebuild with scripts/build.sh");
}

int run_report(const ReportOptions& o) {
  const fs::path script = report_script();
  // Debian's interpreter first: python3-matplotlib is installed for it (a python3 earlier in PATH,
  // e.g. pyenv's, may not have it).
  const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  std::vector<std::string> args = {python, script.string()};
  for (const auto& r : o.runs) args.push_back(r);
  args.push_back("--out");
  args.push_back(o.out);
  if (o.json) args.push_back("--json");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::cout.flush();
  const pid_t pid = fork();
  if (pid < 0) throw InputError("redoubt report: fork failed");
  if (pid == 0) {
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "redoubt report: cannot run python3 (install python3-matplotlib: scripts/setup.sh)\n");
    _exit(kExitEnv);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) throw InputError("redoubt report: waitpid failed");
  }
  if (!WIFEXITED(st)) {
    std::cerr << "redoubt report: the plotting script was killed (signal " << WTERMSIG(st) << ")\n";
    return kExitEnv;
  }
  return WEXITSTATUS(st);  // the script's codes are the CLI's: 0 written, 2 usage, 3 bad input
}

}  // namespace

void register_report(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ReportOptions>();
  auto* c = app.add_subcommand("report",
                               "Plots (PNG + SVG) and a one-page Markdown report of `redoubt run` output directories: "
                               "exit mix, exit latency, TLB hit rate over time, 2-D walk references; several runs side "
                               "by side (docs/research.md)");
  c->add_option("runs", o->runs, "RUN_DIR written by `redoubt run` (e.g. out/run); with --trace the trace is used too")
      ->required()
      ->check(CLI::ExistingDirectory);
  c->add_option("--out", o->out, "Directory for the figures and report.md")->required();
  c->add_flag("--json", o->json, "Print what was written as one JSON document");
  c->callback([o, &exit_code] { exit_code = run_report(*o); });
}

}  // namespace redoubt::tools
