// Issue 14 ("exit traces and reports"): `redoubt run --trace` records every #VMEXIT exactly
// once, in agreement with the hypervisor's own run record, and `redoubt report` turns the
// run into figures and a report, rejecting malformed input by name.
#define BOOST_TEST_MODULE exit_trace_report
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt::test;
using nlohmann::json;

namespace {

json read_json(const fs::path& p) {
  const Bytes b = read_file(p);
  return json::parse(std::string(b.begin(), b.end()));
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

std::vector<std::string> split_csv(const std::string& l) {
  std::vector<std::string> out;
  std::stringstream s(l);
  for (std::string f; std::getline(s, f, ',');) out.push_back(f);
  if (!l.empty() && l.back() == ',') out.push_back("");
  return out;
}

// Exit counts by name and guest instructions by ASID, as the trace says them.
struct Tally {
  std::map<uint32_t, std::map<std::string, uint64_t>> exits;
  std::map<uint32_t, uint64_t> instructions;
  size_t rows = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(every_exit_is_traced_once_and_agrees_with_the_run_record) {
  TempDir t;
  for (const std::string engine : {"full-system", "native"}) {
    const fs::path out = t / engine;
    const fs::path trace = t / (engine + (engine == "native" ? ".jsonl" : ".csv"));
    CliResult r = run_redoubt({"run", "--engine", engine, "--guest", "hello", "--guest", "mmu", "--trace",
                               trace.string(), "--out", out.string()});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    const json run = read_json(out / "run.json"), stats = read_json(out / "stats.json");
    std::map<std::string, uint32_t> asid;
    for (const auto& g : run["guests"]) asid[g["name"]] = g["asid"];
    BOOST_TEST_REQUIRE(asid.size() == 2u);

    Tally tally;
    std::vector<std::string> rows = lines_of(trace);
    if (engine == "full-system") {
      BOOST_TEST_REQUIRE(rows.size() > 1u);
      BOOST_TEST(rows[0] ==
                 "seq,asid,vmcb,exit_code,exit_name,exit_info1,exit_info2,guest_rip,guest_instructions,guest_ns,"
                 "host_ns,host_instructions,tlb_hits,tlb_misses,walks,walk_refs,nested_walk_refs");
      for (size_t i = 1; i < rows.size(); ++i) {
        const auto f = split_csv(rows[i]);
        BOOST_TEST_REQUIRE(f.size() == 17u, rows[i]);
        BOOST_TEST(std::stoull(f[0]) == i - 1);  // seq counts every exit, none skipped
        const uint32_t a = static_cast<uint32_t>(std::stoul(f[1]));
        ++tally.exits[a][f[4]];
        tally.instructions[a] += std::stoull(f[8]);
        // Every exit but the last was handled by hv.bin's own instructions before the next VMRUN.
        if (i + 1 < rows.size()) BOOST_TEST(std::stoull(f[11]) > 0u, rows[i]);
        else BOOST_TEST(f[10].empty());  // the last has no next VMRUN: no host time
      }
      tally.rows = rows.size() - 1;
    } else {
      for (size_t i = 0; i < rows.size(); ++i) {
        const json j = json::parse(rows[i]);
        BOOST_TEST(j["seq"].get<uint64_t>() == i);
        const uint32_t a = j["asid"];
        ++tally.exits[a][j["exit_name"].get<std::string>()];
        tally.instructions[a] += j["guest_instructions"].get<uint64_t>();
        BOOST_TEST(j["host_instructions"].is_null());  // the native hypervisor retires no simulated instructions
      }
      tally.rows = rows.size();
    }
    uint64_t total = 0;
    for (const auto& [name, a] : asid) {
      const json& s = stats["guests"][name];
      std::map<std::string, uint64_t> expected = s["exits"].get<std::map<std::string, uint64_t>>();
      BOOST_TEST((tally.exits[a] == expected), engine << " " << name << ": trace and run record disagree");
      BOOST_TEST(tally.instructions[a] == s["instructions_retired"].get<uint64_t>(), engine << " " << name);
      total += s["exits_total"].get<uint64_t>();
    }
    BOOST_TEST(tally.rows == total);
    BOOST_TEST(stats["trace"]["records"].get<uint64_t>() == total);
    BOOST_TEST(stats["engine"] == engine);
  }
  // The same guests, the same exits: the two engines' traces count the same exit kinds
  // (an engine-independent result; timings differ, and INTR counts may).
  const json a = read_json(t / "full-system/stats.json"), b = read_json(t / "native/stats.json");
  BOOST_TEST(a["guests"]["mmu"]["exit_digest"]["sha256"] == b["guests"]["mmu"]["exit_digest"]["sha256"]);

  // The report: figures (PNG and SVG) and report.md naming both runs.
  CliResult rep = run_redoubt({"report", (t / "full-system").string(), (t / "native").string(), "--out",
                               (t / "report").string(), "--json"});
  BOOST_TEST_REQUIRE(rep.exit_code == 0, rep.err);
  const json w = json::parse(rep.out);
  BOOST_TEST(w["traced"] == true);
  for (const char* f : {"exit_mix", "walk_refs", "exit_latency", "tlb_hit_rate"})
    for (const char* ext : {".png", ".svg"}) {
      const fs::path p = t / "report" / (std::string(f) + ext);
      BOOST_TEST(fs::exists(p), p);
      if (fs::exists(p)) BOOST_TEST(fs::file_size(p) > 1000u, p);
    }
  const Bytes md = read_file(t / "report/report.md");
  const std::string s(md.begin(), md.end());
  BOOST_TEST(s.find("| full-system (full-system) |") != std::string::npos, s);
  BOOST_TEST(s.find("| native (native) |") != std::string::npos, s);
}

BOOST_AUTO_TEST_CASE(report_rejects_what_is_not_a_run_by_name) {
  TempDir t;
  fs::create_directories(t / "empty");
  CliResult r = run_redoubt({"report", (t / "empty").string(), "--out", (t / "rep").string()});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(r.err.find("run.json: cannot read") != std::string::npos, r.err);

  // A run whose trace has a malformed line: the line is named.
  fs::create_directories(t / "bad");
  {
    std::ofstream(t / "bad/run.json") << R"({"status":"ran","guests":[]})";
    std::ofstream(t / "bad/stats.json") << R"({"guests":{},"trace":{"path":")" << (t / "bad/t.jsonl").string()
                                        << R"(","format":"jsonl","records":2}})";
    std::ofstream(t / "bad/t.jsonl") << R"({"seq":0,"asid":1,"exit_name":"IOIO","guest_ns":5})" << "\n{not json\n";
  }
  r = run_redoubt({"report", (t / "bad").string(), "--out", (t / "rep").string()});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(r.err.find("t.jsonl:2: not a JSON object") != std::string::npos, r.err);

  r = run_redoubt({"run", "--platform", "qemu", "--trace", (t / "x.csv").string()});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("--trace") != std::string::npos, r.err);
}
