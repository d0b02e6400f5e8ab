// Shadow paging (docs/hypervisor.md "Shadow paging"): `redoubt run --paging shadow` gives every
// demo guest the serial output nested paging gives; the shadow stays coherent across INVLPG and
// CR3 loads (and is shown stale with the resync switched off); a guest that maps hypervisor
// memory through its own page tables is stopped (and reads it with the p2m opened up); a
// page-table bomb ends its guest only.
#define BOOST_TEST_MODULE shadow_paging
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "hypervisor/core/entry.hpp"
#include "tests/hypervisor/run_support.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt;
using namespace redoubt::test;

namespace {

tools::RunOptions with(std::vector<std::string> guests, const std::string& paging) {
  tools::RunOptions o;
  o.guests = std::move(guests);
  o.paging = paging;
  return o;
}

const std::vector<std::string> kDemo = {"hello", "sha256", "mmu", "probe", "cr3flip"};

const GuestRun& nested_run() {
  static std::unique_ptr<GuestRun> r = run_guests(with(kDemo, "nested"));
  return *r;
}
const GuestRun& shadow_run() {
  static std::unique_ptr<GuestRun> r = run_guests(with(kDemo, "shadow"));
  return *r;
}

// The serial output without what depends on time: the sha256 guest prints the TSC ticks it took.
std::string timeless(const std::string& serial) {
  std::string out, line;
  for (size_t at = 0; at < serial.size();) {
    size_t nl = serial.find('\n', at);
    if (nl == std::string::npos) nl = serial.size() - 1;
    line = serial.substr(at, nl + 1 - at);
    at = nl + 1;
    if (line.find(" TSC ticks") != std::string::npos)
      for (char& c : line)
        if (c >= '0' && c <= '9') c = '#';
    out += line;
  }
  return out;
}

uint64_t exits(const tools::GuestResult& g, const std::string& name) {
  auto it = g.exits.find(name);
  return it == g.exits.end() ? 0 : it->second;
}

}  // namespace

BOOST_AUTO_TEST_CASE(demo_guests_print_the_same_in_both_modes) {
  const GuestRun& n = nested_run();
  const GuestRun& s = shadow_run();
  BOOST_REQUIRE(n.result.ran);
  BOOST_REQUIRE(s.result.ran);
  BOOST_TEST(s.result.hv_status == "ok");
  BOOST_TEST(s.result.run_json.at("paging") == "shadow");
  BOOST_TEST(n.result.run_json.at("paging") == "nested");
  for (const std::string& name : kDemo) {
    const auto& gn = n.guest(name);
    const auto& gs = s.guest(name);
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(gn.paging == "nested");
      BOOST_TEST(gs.paging == "shadow");
      BOOST_TEST(gs.status == gn.status);
      BOOST_TEST(gs.exit_code == gn.exit_code);
      BOOST_TEST(!gs.serial.empty());
      BOOST_TEST(timeless(gs.serial) == timeless(gn.serial));
      // Nested paging never sees a guest #PF, CR3 access or INVLPG; shadow paging fills on #PF.
      BOOST_TEST(exits(gn, "EXCP_PF") == 0u);
      BOOST_TEST(exits(gn, "CR3_WRITE") == 0u);
      BOOST_TEST(exits(gs, "EXCP_PF") > 0u);
      BOOST_TEST(gs.shadow.at("fills") > 0u);
      BOOST_TEST(gs.npt_walk_refs == 0u);  // nested paging is off: no 2-D walk
      BOOST_TEST(gn.npt_walk_refs > 0u);
    }
  }
  BOOST_TEST(n.guest("mmu").serial.find("mmu: all checks passed") != std::string::npos);
  BOOST_TEST(n.guest("cr3flip").serial.find("cr3flip: all checks passed") != std::string::npos);
  BOOST_TEST(n.guest("sha256").serial.find("sha256(1048576)=") != std::string::npos);
  // cr3flip's 4000 CR3 loads (+1 before its coherence check, +1 reload in it) are 4002 CR3_WRITE
  // exits, each a shadow flush; after each, the code page and the window page are filled again.
  BOOST_TEST(exits(s.guest("cr3flip"), "CR3_WRITE") == 4002u);
  BOOST_TEST(s.guest("cr3flip").shadow.at("flushes") == 4002u);
  BOOST_TEST(s.guest("cr3flip").shadow.at("fills") >= 8004u);
  // mmu: its 5 #PF (4 demand-paged pages, 1 after INVLPG) are reflected by the hypervisor.
  BOOST_TEST(s.guest("mmu").shadow.at("guest_faults_reflected") == 5u);
  BOOST_TEST(exits(s.guest("mmu"), "INVLPG") == 1u);
}

BOOST_AUTO_TEST_CASE(stale_translation_without_the_resync) {
  // The coherence checks pass with the resync (above); without it the rewritten PTE is not seen.
  tools::RunOptions o = with({"cr3flip"}, "shadow");
  o.launch.hv_test_flags = hv::kHvTestShadowNoResync;
  auto r = run_guests(o);
  const auto& g = r->guest("cr3flip");
  BOOST_TEST(g.serial.find("after INVLPG the window reads 0x1111: STALE") != std::string::npos, g.serial);
  BOOST_TEST(g.serial.find("cr3flip: FAILED") != std::string::npos, g.serial);
  BOOST_TEST(shadow_run().guest("cr3flip").serial.find("after INVLPG the window reads 0x2222: coherent") !=
             std::string::npos);
  BOOST_TEST(shadow_run().guest("cr3flip").serial.find("after a CR3 reload it reads 0x1111: coherent") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(hypervisor_memory_through_guest_page_tables_is_blocked) {
  for (const bool off : {false, true}) {
    tools::RunOptions o = with({"cr3flip"}, "shadow");
    o.guest_arg_specs = {"cr3flip=2,hv-memory"};
    if (off) o.launch.hv_test_flags = hv::kHvTestNptMapsHost;  // TEST ONLY: the p2m maps the host too
    auto r = run_guests(o);
    const auto& g = r->guest("cr3flip");
    BOOST_TEST_CONTEXT("protection " << (off ? "off" : "on") << ": " << g.serial << g.reason) {
      BOOST_TEST(g.serial.find("through my own page tables") != std::string::npos);
      if (!off) {
        BOOST_TEST(g.status == "killed");
        BOOST_TEST(g.serial.find("read host memory") == std::string::npos);  // nothing leaked
        BOOST_TEST(g.serial.find("RDBTRUN1") == std::string::npos);
        BOOST_REQUIRE(!g.violations.empty());
        BOOST_TEST(g.violations[0].gpa == r->result.hv_memory_pa);
        BOOST_TEST(r->result.hv_status == "ok");
      } else {
        // What the protection stops: the run record's magic, read through the guest's own PTE.
        BOOST_TEST(g.serial.find("read host memory: \"RDBTRUN1\"") != std::string::npos);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(page_table_bomb_ends_its_guest_only) {
  tools::RunOptions o = with({"hello", "cr3flip"}, "shadow");
  o.guest_arg_specs = {"cr3flip=1,64"};
  auto r = run_guests(o);
  const auto& g = r->guest("cr3flip");
  BOOST_TEST(g.status == "killed");
  BOOST_TEST(g.reason.find("page-table bomb") != std::string::npos, g.reason);
  BOOST_TEST(g.shadow.at("recycles") == 257u);
  BOOST_TEST(g.shadow.at("pages_peak") == g.shadow.at("pool_pages"));  // never more than the fixed pool
  BOOST_TEST(r->guest("hello").status == "exited");
  BOOST_TEST(r->result.hv_status == "ok");
}

BOOST_AUTO_TEST_CASE(report_puts_shadow_and_nested_side_by_side) {
  TempDir t;
  CliResult rep = run_redoubt({"report", nested_run().result.launch.out_dir.string(),
                               shadow_run().result.launch.out_dir.string(), "--out", (t / "rep").string(), "--json"});
  BOOST_TEST_REQUIRE(rep.exit_code == 0, rep.err);
  const auto w = nlohmann::json::parse(rep.out);
  BOOST_TEST(w["paging_compared"] == true);
  for (const char* ext : {".png", ".svg"}) {
    const fs::path p = t / "rep" / (std::string("paging_compare") + ext);
    BOOST_TEST(fs::exists(p), p);
    if (fs::exists(p)) BOOST_TEST(fs::file_size(p) > 1000u, p);
  }
  const Bytes md = read_file(t / "rep/report.md");
  const std::string s(md.begin(), md.end());
  BOOST_TEST(s.find("## Shadow vs nested paging") != std::string::npos, s);
  const uint64_t cr3 = exits(shadow_run().guest("cr3flip"), "CR3_WRITE");
  BOOST_TEST(s.find("| cr3flip | shadow | ") != std::string::npos, s);
  BOOST_TEST(s.find(" | " + std::to_string(cr3) + " | ") != std::string::npos, s);  // its CR3 writes, in the table
}
