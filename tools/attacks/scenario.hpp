// `redoubt attack`: the scenario catalogue (docs/isolation.md). A scenario is a
// real attacker — a hostile guest image run by the measured hypervisor, or the
// untrusted pre-launch loader replaying old inputs — plus the checks that decide,
// from values the scenario computes itself, whether the attack was blocked and
// whether anything leaked. Adding one is one file in tools/attacks/ with a
// REDOUBT_ATTACK(...) registration (the directory is globbed by CMake).
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace redoubt::tools::attacks {

class Ctx;

// What one scenario found. blocked: every condition of "the attack was stopped"
// held; leaked: something was read or changed that must not be.
struct Result {
  std::string name, category;
  bool blocked = false, leaked = false;
  bool protection_off = false;  // run with the scenario's test-only switch
  std::string detail;
  std::string error;            // the scenario could not run (environment): blocked and leaked say nothing
  double seconds = 0;
  nlohmann::json evidence = nlohmann::json::object();  // hashes and counts the verdict rests on

  nlohmann::json to_json() const;
};

// The checks a scenario makes. need(): a condition of "blocked"; leak(): a
// condition that, when true, means something leaked; note(): a fact for the detail.
class Checks {
 public:
  void need(bool ok, const std::string& what);
  void leak(bool leaked, const std::string& what);
  void note(const std::string& fact);
  // A summary that holds only if nothing failed or leaked so far (left out otherwise).
  void clean(const std::string& summary) {
    if (blocked() && !leaked()) note(summary);
  }
  nlohmann::json& evidence() { return evidence_; }

  bool blocked() const { return failed_.empty(); }
  bool leaked() const { return !leaks_.empty(); }
  std::string detail() const;  // failures and leaks first, then the notes
  const nlohmann::json& evidence() const { return evidence_; }

 private:
  std::vector<std::string> failed_, leaks_, notes_;
  nlohmann::json evidence_ = nlohmann::json::object();
};

struct Scenario {
  std::string name;      // category.short-name
  std::string category;  // cpu-state, cross-guest, hv-memory, hypercall, resource, tpm-locality, replay
  std::string attack;    // what the attacker does (one sentence)
  std::string stops;     // what stops it, with the APM / TCG section
  std::string off;       // the test-only switch of --protection-off ("" = none)
  std::function<void(Ctx&, Checks&)> run;
};

// Registration (static initialisers of the scenario files; the order of `list` is by name).
int add(Scenario s);
const std::vector<Scenario>& all();
const Scenario* find(const std::string& name);

}  // namespace redoubt::tools::attacks

#define REDOUBT_ATTACK_CAT2(a, b) a##b
#define REDOUBT_ATTACK_CAT(a, b) REDOUBT_ATTACK_CAT2(a, b)
// REDOUBT_ATTACK({name, category, attack, stops, off, [](Ctx& c, Checks& k) {...}});
#define REDOUBT_ATTACK(...)                                                                     \
  [[maybe_unused]] static const int REDOUBT_ATTACK_CAT(redoubt_attack_registered_, __LINE__) = \
      ::redoubt::tools::attacks::add(::redoubt::tools::attacks::Scenario __VA_ARGS__)
