// `redoubt attack list | run NAME... | run --all`: the isolation claims of the
// hypervisor as attacks that were tried (tools/attacks/, docs/isolation.md).
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "tools/attacks/harness.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {

namespace {

using attacks::Result;
using attacks::Scenario;
using nlohmann::json;

struct AttackOptions {
  attacks::Options run;
  std::vector<std::string> names;
  std::string category;
  bool all = false, json_out = false;
};

std::string fit(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n - 3) + "..."; }

// --category names one of the categories the scenarios have; anything else is a usage error (exit 2).
void check_category(const std::string& c) {
  if (c.empty()) return;
  std::string known;
  for (const Scenario& s : attacks::all()) {
    if (s.category == c) return;
    if (known.find(" " + s.category + ",") == std::string::npos) known += " " + s.category + ",";
  }
  known.pop_back();
  throw std::invalid_argument("--category " + c + ": no such category (one of" + known + ")");
}

int do_list(const AttackOptions& o) {
  check_category(o.category);
  json j = json::array();
  size_t count = 0;
  for (const Scenario& s : attacks::all()) {
    if (!o.category.empty() && s.category != o.category) continue;
    ++count;
    j.push_back({{"name", s.name},
                 {"category", s.category},
                 {"attack", s.attack},
                 {"stopped_by", s.stops},
                 {"protection_off_switch", s.off.empty() ? json(nullptr) : json(s.off)}});
  }
  if (o.json_out) {
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << std::left << std::setw(40) << "SCENARIO" << std::setw(14) << "CATEGORY" << "OFF  ATTACK\n";
  for (const auto& e : j)
    std::cout << std::setw(40) << e["name"].get<std::string>() << std::setw(14) << e["category"].get<std::string>()
              << (e["protection_off_switch"].is_null() ? "-    " : "yes  ") << fit(e["attack"].get<std::string>(), 90)
              << "\n";
  std::cout << count << " scenarios; `redoubt attack run NAME` or `run --all` (docs/isolation.md)\n";
  return kExitOk;
}

int do_run(const AttackOptions& o) {
  std::vector<const Scenario*> selected;
  check_category(o.category);
  if (o.all) {
    for (const Scenario& s : attacks::all())
      if ((o.category.empty() || s.category == o.category) && (!o.run.protection_off || !s.off.empty()))
        selected.push_back(&s);
    if (!o.names.empty()) throw std::invalid_argument("give scenario names or --all, not both");
  } else {
    if (o.names.empty()) throw std::invalid_argument("attack run: give a scenario NAME (redoubt attack list) or --all");
    for (const std::string& n : o.names) {
      const Scenario* s = attacks::find(n);
      if (!s) throw std::invalid_argument("no attack scenario named '" + n + "' (redoubt attack list)");
      if (o.run.protection_off && s->off.empty())
        throw std::invalid_argument("scenario " + n + " has no test-only switch to turn its protection off");
      selected.push_back(s);
    }
  }
  if (selected.empty()) throw std::invalid_argument("no scenario matches");
  for (const char* image : {"sl.bin", "sl2.bin", "hv.bin", "guests/attack.bin", "guests/hvattack.bin", "guests/hello.bin"})
    if (!std::filesystem::exists(build_dir() / image))
      throw InputError((build_dir() / image).string() + " is missing: build the project first (scripts/build.sh)");

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Result> results;
  for (size_t i = 0; i < selected.size(); ++i) {
    const Scenario& s = *selected[i];
    if (selected.size() > 1 || o.json_out)
      std::cerr << "[" << i + 1 << "/" << selected.size() << "] " << s.name << (o.run.protection_off ? " (protection off)" : "")
                << " ..." << std::flush;
    Result r = attacks::run_scenario(s, o.run);
    if (selected.size() > 1 || o.json_out) {
      char secs[32];
      snprintf(secs, sizeof secs, "%.1f s", r.seconds);
      std::cerr << " " << (!r.error.empty() ? "ERROR" : r.blocked ? "blocked" : "NOT BLOCKED") << ", "
                << (r.leaked ? "LEAKED" : "nothing leaked") << " (" << secs << ")\n";
    }
    results.push_back(std::move(r));
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  size_t blocked = 0, leaked = 0, errors = 0;
  for (const Result& r : results) {
    blocked += r.blocked;
    leaked += r.leaked;
    errors += !r.error.empty();
  }
  size_t through = 0;  // attacks that got through (a scenario that could not run is an error, not this)
  for (const Result& r : results) through += r.error.empty() && (!r.blocked || r.leaked);

  if (o.json_out) {
    json arr = json::array();
    for (const Result& r : results) arr.push_back(r.to_json());
    json j = {{"protection", o.run.protection_off ? "off" : "on"},
              {"engine", o.run.protection_off ? "native-sl for test switches of the hypervisor, else " + o.run.engine
                                               : o.run.engine},
              {"results", arr},
              {"summary",
               {{"scenarios", results.size()},
                {"blocked", blocked},
                {"leaked", leaked},
                {"errors", errors},
                {"seconds", total}}}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << std::left << std::setw(40) << "SCENARIO" << std::setw(14) << "CATEGORY" << std::setw(9) << "BLOCKED"
              << std::setw(8) << "LEAKED" << std::setw(8) << "SECONDS" << "DETAIL\n";
    for (const Result& r : results) {
      char secs[16];
      snprintf(secs, sizeof secs, "%.1f", r.seconds);
      std::cout << std::setw(40) << r.name << std::setw(14) << r.category << std::setw(9)
                << (!r.error.empty() ? "error" : r.blocked ? "yes" : "NO") << std::setw(8) << (r.leaked ? "YES" : "no")
                << std::setw(8) << secs << fit(r.detail, 160) << "\n";
    }
    char secs[32];
    snprintf(secs, sizeof secs, "%.1f", total);
    std::cout << results.size() << " scenario(s)" << (o.run.protection_off ? " with their protection OFF" : "") << ": "
              << blocked << " blocked, " << leaked << " leaked, " << errors << " could not run; " << secs << " s\n";
  }
  if (through) return kExitRefused;
  if (errors) return kExitEnv;
  return kExitOk;
}

}  // namespace

void register_attack(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<AttackOptions>();
  CLI::App* a = app.add_subcommand(
      "attack", "Attack the hypervisor's isolation with hostile guests and a hostile loader; each scenario says "
                "whether it was blocked and whether anything leaked (docs/isolation.md)");
  a->require_subcommand(1);
  CLI::App* list = a->add_subcommand("list", "List the attack scenarios");
  list->add_flag("--json", o->json_out, "JSON: name, category, attack, stopped_by, protection_off_switch");
  list->add_option("--category", o->category, "Only this category");
  list->callback([o, &exit_code] { exit_code = do_list(*o); });

  CLI::App* run = a->add_subcommand("run", "Run attack scenarios (exit 0 only if every one was blocked and nothing leaked)");
  run->add_option("name", o->names, "Scenario name(s) (redoubt attack list)");
  run->add_flag("--all", o->all, "Every scenario (progress on stderr)");
  run->add_option("--category", o->category, "With --all: only this category");
  run->add_flag("--json", o->json_out, "JSON on stdout: results [{name, category, blocked, leaked, detail, ...}], summary");
  run->add_flag("--protection-off", o->run.protection_off,
                "TEST ONLY: turn the scenario's protection off with its test-only switch (engine native-sl for the "
                "hypervisor's switches) and show the attack succeeds; with --all, every scenario that has one");
  run->add_option("--engine", o->run.engine, "Engine of the protected runs: full-system (default) or native-sl")
      ->check(CLI::IsMember({"full-system", "native-sl"}))
      ->capture_default_str();
  run->add_flag("--verbose", o->run.verbose, "Show each launch's console on stderr");
  run->add_option("--keep", o->run.keep, "Keep each scenario's state and output in DIR/NAME (default: a removed temp dir)");
  run->callback([o, &exit_code] { exit_code = do_run(*o); });
}

}  // namespace redoubt::tools
