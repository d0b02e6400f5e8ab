// cpu_difftest: random user-mode instruction sequences run on the host CPU (a sandboxed
// child) and in the simulated CPU, compared register by register (issue 14,
// docs/simulator-cpu.md "Differential tester"). Exit 0: no divergence; 1: divergences; 2: usage.
#include <Zydis/Zydis.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench/machine_info.hpp"
#include "tools/cpu_difftest/compare.hpp"
#include "tools/cpu_difftest/generator.hpp"
#include "tools/cpu_difftest/native.hpp"
#include "tools/cpu_difftest/sim_runner.hpp"

using namespace redoubt::difftest;
using nlohmann::json;

namespace {

const char kUsage[] =
    "usage: cpu_difftest [--seeds N] [--start S] [--replay FILE] [--show SEED] [--json]\n"
    "                    [--min-insns A] [--max-insns B] [--only CLASS,...] [--report K] [--jit N]\n"
    "  Runs N generated sequences (seeds S..S+N-1; default 10000 from 1) natively in a sandboxed\n"
    "  child and in the simulated CPU and compares registers, defined flags and memory.\n"
    "  --jit N        translate a block to host code after N runs (default 1: every sequence runs\n"
    "                 translated code, docs/simulator-cpu.md \"Translator\"); 0: interpreter only\n"
    "  --replay FILE  run the seeds listed in FILE instead, one per line with optional generator\n"
    "                 options: SEED [only=CLASS,...] [min=N] [max=N]  # comment\n"
    "  --show SEED    print the sequence (disassembled) and both outcomes\n"
    "  --only         restrict the generator to classes (alu test unary mul div shift shiftd bitop\n"
    "                 bitscan movx convert setcmov lea xchg bswap mov string stack flags sse jcc)\n"
    "  --report K     explain at most K divergences in detail (default 20)\n"
    "  exit status: 0 no divergence, 1 divergences, 2 usage or setup error\n";

std::string hex(const uint8_t* p, size_t n) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < n; ++i) { std::snprintf(b, sizeof b, "%02x", p[i]); s += b; if (i + 1 < n) s += ' '; }
  return s;
}

std::string disasm(const Sequence& s, const Insn& i) {
  ZydisDisassembledInstruction d;
  if (ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, kCode + i.off, s.code.data() + i.off, i.len, &d)))
    return d.text;
  return "(undecodable)";
}

struct Runner {
  NativeRunner native;
  SimRunner sim;
  std::unique_ptr<Outcome[]> n{new Outcome[NativeRunner::kBatch]}, m{new Outcome[NativeRunner::kBatch]};
  // Runs one sequence both ways.
  std::vector<std::string> one(const Sequence& s, Outcome& no, Outcome& so) {
    const Sequence* p = &s;
    native.run(&p, 1, &no);
    sim.run(s, so);
    return differences(s, no, so);
  }
};

// The first instruction whose prefix diverges (the culprit), or -1.
long first_divergent(Runner& r, const Sequence& s) {
  auto no = std::make_unique<Outcome>(), so = std::make_unique<Outcome>();
  for (size_t k = 1; k <= s.insns.size(); ++k) {
    const Sequence p = prefix(s, k);
    if (!r.one(p, *no, *so).empty()) return long(k) - 1;
  }
  return -1;
}

json explain(Runner& r, const Sequence& s, const std::vector<std::string>& diffs) {
  json j;
  j["seed"] = s.seed;
  j["differences"] = diffs;
  const long k = first_divergent(r, s);
  if (k >= 0) {
    const Insn& i = s.insns[size_t(k)];
    j["instruction"] = {{"index", k}, {"offset", i.off}, {"bytes", hex(s.code.data() + i.off, i.len)},
                        {"disassembly", disasm(s, i)}, {"form", i.form}};
    auto no = std::make_unique<Outcome>(), so = std::make_unique<Outcome>();
    j["differences_after_it"] = r.one(prefix(s, size_t(k) + 1), *no, *so);
  }
  return j;
}

void show(Runner& r, uint64_t seed, const GenOptions& opt) {
  auto s = std::make_unique<Sequence>();
  generate(seed, opt, *s);
  std::printf("seed %llu: %zu instructions, %zu bytes\n", (unsigned long long)seed, s->insns.size(), s->code.size());
  for (const Insn& i : s->insns)
    std::printf("  %04x  %-36s %-40s [%s] flags defined before %#llx\n", i.off, hex(s->code.data() + i.off, i.len).c_str(),
                disasm(*s, i).c_str(), i.form.c_str(), (unsigned long long)i.defined_before);
  auto no = std::make_unique<Outcome>(), so = std::make_unique<Outcome>();
  const auto d = r.one(*s, *no, *so);
  std::printf("native: vector %d rip %#llx rflags %#llx %s\n", no->vector, (unsigned long long)no->regs.rip,
              (unsigned long long)no->regs.rflags, no->note);
  std::printf("sim:    vector %d rip %#llx rflags %#llx %s\n", so->vector, (unsigned long long)so->regs.rip,
              (unsigned long long)so->regs.rflags, so->note);
  for (const auto& x : d) std::printf("  DIFF %s\n", x.c_str());
  if (d.empty()) std::printf("  no difference\n");
}

// "alu,shift,..." -> class bits; false on an unknown name.
bool parse_classes(const std::string& list, uint32_t& bits) {
  bits = 0;
  std::stringstream ss(list);
  for (std::string c; std::getline(ss, c, ',');) {
    unsigned k = 0;
    while (k < kNumClasses && c != class_name(k)) ++k;
    if (k == kNumClasses) return false;
    bits |= 1u << k;
  }
  return bits != 0;
}

// A seed-list line: "SEED [only=CLASS,...] [min=N] [max=N]  # comment". false: malformed.
bool parse_seed_line(std::string line, const GenOptions& def, uint64_t& seed, GenOptions& opt, bool& empty) {
  const auto h = line.find('#');
  if (h != std::string::npos) line.resize(h);
  std::stringstream ss(line);
  std::string tok;
  empty = !(ss >> tok);
  if (empty) return true;
  char* e = nullptr;
  seed = std::strtoull(tok.c_str(), &e, 0);
  if (*e) return false;
  opt = def;
  while (ss >> tok) {
    const auto eq = tok.find('=');
    if (eq == std::string::npos) return false;
    const std::string k = tok.substr(0, eq), v = tok.substr(eq + 1);
    if (k == "only") { if (!parse_classes(v, opt.classes)) return false; }
    else if (k == "min" || k == "max") {
      const unsigned long n = std::strtoul(v.c_str(), &e, 10);
      if (v.empty() || *e || n < 1 || n > 64) return false;
      (k == "min" ? opt.min_insns : opt.max_insns) = unsigned(n);
    } else return false;
  }
  return opt.min_insns <= opt.max_insns;
}

// The seed-list line that replays a sequence (options only where they differ from the defaults).
std::string seed_line(uint64_t seed, const GenOptions& o) {
  const GenOptions d;
  std::string s = std::to_string(seed);
  if (o.classes != d.classes) {
    s += " only=";
    bool first = true;
    for (unsigned k = 0; k < kNumClasses; ++k)
      if (o.classes >> k & 1) { s += (first ? "" : ",") + std::string(class_name(k)); first = false; }
  }
  if (o.min_insns != d.min_insns) s += " min=" + std::to_string(o.min_insns);
  if (o.max_insns != d.max_insns) s += " max=" + std::to_string(o.max_insns);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 10000, start = 1;
  std::string replay;
  bool as_json = false;
  long show_seed = -1;
  unsigned report = 20;
  unsigned jit = 1;
  GenOptions opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n%s", a.c_str(), kUsage); std::exit(2); }
      return argv[++i];
    };
    auto num = [&]() -> uint64_t {
      const char* v = next();
      char* e = nullptr;
      const uint64_t x = std::strtoull(v, &e, 0);
      if (!*v || *e) { std::fprintf(stderr, "%s: not a number: %s\n", a.c_str(), v); std::exit(2); }
      return x;
    };
    if (a == "--seeds") seeds = num();
    else if (a == "--start") start = num();
    else if (a == "--replay") replay = next();
    else if (a == "--json") as_json = true;
    else if (a == "--show") show_seed = long(num());
    else if (a == "--report") report = unsigned(num());
    else if (a == "--jit") jit = unsigned(num());
    else if (a == "--min-insns") opt.min_insns = unsigned(num());
    else if (a == "--max-insns") opt.max_insns = unsigned(num());
    else if (a == "--only") {
      if (!parse_classes(next(), opt.classes)) { std::fprintf(stderr, "--only: unknown class in the list\n%s", kUsage); return 2; }
    } else if (a == "--help" || a == "-h") { std::fputs(kUsage, stdout); return 0; }
    else { std::fprintf(stderr, "unknown option %s\n%s", a.c_str(), kUsage); return 2; }
  }
  if (opt.min_insns < 1 || opt.max_insns < opt.min_insns || opt.max_insns > 64) {
    std::fprintf(stderr, "instruction counts must satisfy 1 <= min <= max <= 64\n");
    return 2;
  }
  std::vector<std::pair<uint64_t, GenOptions>> list;  // --replay: seeds with their generator options
  if (!replay.empty()) {
    std::ifstream f(replay);
    if (!f) { std::fprintf(stderr, "cannot read %s\n", replay.c_str()); return 2; }
    unsigned lineno = 0;
    for (std::string line; std::getline(f, line);) {
      ++lineno;
      uint64_t seed = 0;
      GenOptions o;
      bool empty = false;
      if (!parse_seed_line(line, opt, seed, o, empty)) {
        std::fprintf(stderr, "%s:%u: malformed seed line: %s\n", replay.c_str(), lineno, line.c_str());
        return 2;
      }
      if (!empty) list.emplace_back(seed, o);
    }
  }
  std::unique_ptr<Runner> r;
  try {
    r = std::make_unique<Runner>();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cpu_difftest: %s\n", e.what());
    return 2;
  }
  r->sim.set_jit_threshold(jit);
  if (show_seed >= 0) { show(*r, uint64_t(show_seed), opt); return 0; }

  const uint64_t total = replay.empty() ? seeds : list.size();
  std::vector<Sequence> batch(NativeRunner::kBatch);
  const Sequence* ptrs[NativeRunner::kBatch];
  GenOptions used[NativeRunner::kBatch];
  std::map<int, uint64_t> stops;
  uint64_t insns = 0, bytes = 0;
  json divergences = json::array();
  std::vector<std::string> divergent_seeds;  // seed-list lines
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  for (uint64_t done = 0; done < total;) {
    const unsigned n = unsigned(std::min<uint64_t>(NativeRunner::kBatch, total - done));
    for (unsigned i = 0; i < n; ++i) {
      used[i] = replay.empty() ? opt : list[done + i].second;
      generate(replay.empty() ? start + done + i : list[done + i].first, used[i], batch[i]);
      ptrs[i] = &batch[i];
      insns += batch[i].insns.size();
      bytes += batch[i].code.size();
    }
    r->native.run(ptrs, n, r->n.get());
    for (unsigned i = 0; i < n; ++i) {
      r->sim.run(batch[i], r->m[i]);
      const Outcome& no = r->n[i];
      ++stops[no.vector == 6 && no.regs.rip == kCode + batch[i].code.size() ? -1 : no.vector];
      const auto d = differences(batch[i], no, r->m[i]);
      if (d.empty()) continue;
      divergent_seeds.push_back(seed_line(batch[i].seed, used[i]));
      if (divergences.size() < report) {
        divergences.push_back(explain(*r, batch[i], d));
        divergences.back()["replay_line"] = divergent_seeds.back();
      }
    }
    done += n;
    const auto now = std::chrono::steady_clock::now();
    if (now - last > std::chrono::seconds(30)) {
      last = now;
      std::fprintf(stderr, "cpu_difftest: %llu/%llu sequences, %zu divergent\n", (unsigned long long)done,
                   (unsigned long long)total, divergent_seeds.size());
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  json out;
  out["sequences"] = total;
  out["instructions"] = insns;
  out["code_bytes"] = bytes;
  out["seconds"] = secs;
  out["sequences_per_second"] = secs > 0 ? double(total) / secs : 0.0;
  if (replay.empty()) out["seeds"] = {start, start + total - 1};
  else out["replay"] = replay;
  json st = json::object();
  for (auto& [v, c] : stops) st[v == -1 ? "end" : v == -2 ? "child_died" : "vector_" + std::to_string(v)] = c;
  out["native_stops"] = st;
  out["native_child_restarts"] = r->native.restarts();
  const auto& cc = r->sim.counters();
  out["translator"] = {{"threshold", jit}, {"blocks_translated", cc.blocks_translated},
                       {"native_instructions", cc.jit_native_ops}, {"helper_instructions", cc.jit_helper_ops}};
  out["divergent_seeds"] = divergent_seeds;
  out["divergences"] = divergences;
  utsname u{};
  uname(&u);
  out["machine"] = {{"cpu", redoubt::bench::cpu_model()}, {"cores_online", sysconf(_SC_NPROCESSORS_ONLN)},
                    {"kernel", std::string(u.sysname) + " " + u.release}};
  if (as_json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%llu sequences (%llu instructions) in %.2f s: %.0f sequences/s; %zu divergent\n",
                (unsigned long long)total, (unsigned long long)insns, secs, out["sequences_per_second"].get<double>(),
                divergent_seeds.size());
    std::printf("native stops: %s\n", st.dump().c_str());
    std::printf("translator: %s\n", out["translator"].dump().c_str());
    for (const auto& d : divergences) std::printf("%s\n", d.dump(2).c_str());
  }
  return divergent_seeds.empty() ? 0 : 1;
}
