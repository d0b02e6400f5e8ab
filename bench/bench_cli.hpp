// The command line every bench_* program shares: --help, --json, --reps N, and
// positional sizes; results as min / median / max over the repetitions, printed
// as a table for people or as one JSON document (with the machine) for scripts.
// Exit codes as the redoubt CLI's: 0 done, 1 a measurement failed, 2 bad usage.
#pragma once
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/machine_info.hpp"

namespace redoubt::bench {

struct BenchArgs {
  bool json = false;
  int reps = 3;
  std::vector<std::string> positional;
};

// usage: the whole --help text after "usage: NAME "; max_positional: how many sizes NAME takes.
inline BenchArgs parse_bench_args(int argc, char** argv, const char* usage, size_t max_positional,
                                  int default_reps = 3) {
  BenchArgs a;
  a.reps = default_reps;
  const char* name = std::strrchr(argv[0], '/') ? std::strrchr(argv[0], '/') + 1 : argv[0];
  auto bad = [&](const std::string& why) {
    std::fprintf(stderr, "%s: %s (try --help)\n", name, why.c_str());
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "--help" || s == "-h") {
      std::printf("usage: %s [--json] [--reps N] %s\n", name, usage);
      std::printf("  --json     one JSON document on stdout: the machine and every result (min/median/max)\n");
      std::printf("  --reps N   repetitions of each measurement (default %d, 1..1000000)\n", default_reps);
      std::exit(0);
    } else if (s == "--json") {
      a.json = true;
    } else if (s == "--reps") {
      if (i + 1 >= argc) bad("--reps needs a number");
      char* end = nullptr;
      const long v = std::strtol(argv[++i], &end, 10);
      if (!*argv[i] || *end || v < 1 || v > 1000000) bad(std::string("--reps ") + argv[i] + ": expected 1..1000000");
      a.reps = static_cast<int>(v);
    } else if (!s.empty() && s[0] == '-') {
      bad("unknown option " + s);
    } else {
      if (a.positional.size() >= max_positional) bad("unexpected argument " + s);
      a.positional.push_back(s);
    }
  }
  return a;
}

// A positional size: decimal or 0x hex, at least `min`; exits 2 naming it otherwise.
inline uint64_t positional_u64(const BenchArgs& a, size_t i, uint64_t dflt, uint64_t min, const char* what) {
  if (i >= a.positional.size()) return dflt;
  const std::string& s = a.positional[i];
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (s.empty() || s[0] == '-' || *end || errno || v < min) {
    std::fprintf(stderr, "%s %s: expected a number >= %llu\n", what, s.c_str(), (unsigned long long)min);
    std::exit(2);
  }
  return v;
}

struct Summary {
  double min = 0, median = 0, max = 0;
  size_t n = 0;
};

inline Summary summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.n = v.size();
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return s;
}

inline nlohmann::json machine_json() {
  utsname u{};
  uname(&u);
  return {{"cpu", cpu_model()}, {"cores_online", sysconf(_SC_NPROCESSORS_ONLN)},
          {"kernel", std::string(u.sysname) + " " + u.release}};
}

// Collects results; prints each as it comes (table mode) or all at the end (JSON mode).
class Report {
 public:
  Report(const char* bench, const BenchArgs& a) : args_(a) {
    doc_ = {{"bench", bench}, {"machine", machine_json()}, {"reps", a.reps}, {"results", nlohmann::json::array()}};
    if (!a.json) print_machine();
  }
  const BenchArgs& args() const { return args_; }
  // A fact about the run (the machine's load, ...): in the JSON document under "meta" (print it with note()).
  void meta(const std::string& key, nlohmann::json value) {
    doc_["meta"][key] = value;
  }
  // A free-form line for people (not in the JSON document).
  void note(const std::string& line) const {
    if (!args_.json) std::printf("%s\n", line.c_str());
  }
  // One measurement: `samples` are its repetitions (one value each), `extra` adds context.
  void add(const std::string& name, const std::string& unit, const std::vector<double>& samples,
           nlohmann::json extra = nlohmann::json::object()) {
    const Summary s = summarize(samples);
    nlohmann::json r = {{"name", name}, {"unit", unit}, {"min", s.min}, {"median", s.median}, {"max", s.max},
                        {"n", s.n}};
    for (auto it = extra.begin(); it != extra.end(); ++it) r[it.key()] = it.value();
    doc_["results"].push_back(r);
    if (!args_.json) {
      std::printf("%-58s %12.3f %-16s (min %.3f, max %.3f, n=%zu)", name.c_str(), s.median, unit.c_str(), s.min,
                  s.max, s.n);
      for (auto it = extra.begin(); it != extra.end(); ++it) std::printf(" %s=%s", it.key().c_str(), it.value().dump().c_str());
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  // A derived figure (a ratio of two results in this run), printed and recorded.
  void ratio(const std::string& name, double value, const std::string& of) {
    doc_["ratios"].push_back({{"name", name}, {"value", value}, {"of", of}});
    if (!args_.json) std::printf("%-58s %12.2fx  (%s)\n", name.c_str(), value, of.c_str());
  }
  void finish() const {
    if (args_.json) std::printf("%s\n", doc_.dump(2).c_str());
  }

 private:
  BenchArgs args_;
  nlohmann::json doc_;
};

}  // namespace redoubt::bench
