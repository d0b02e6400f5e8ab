// Issue 13, the fleet status page: a verifier with one affirming and one
// contraindicated endpoint (a hypervisor below the minimum SVN); GET /status
// is loaded in Debian's headless Chromium with a relying-party token, and the
// DOM must show the contraindicated endpoint with its named finding, filtered
// by status; a wrong token shows the login form and no endpoint. A screenshot
// is saved in build/test-output/attest_status_page_test/.
#define BOOST_TEST_MODULE attest_status_page_test
#include <boost/test/unit_test.hpp>
#include <regex>

#include "tests/attestation/service_world.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Fleet {
  ServiceWorld w;
  std::unique_ptr<VerifierProcess> v;
  Fleet() {
    auto args = w.verifier_args();
    args.insert(args.end(), {"--db", (w.dir / "fleet.db").string()});
    v = std::make_unique<VerifierProcess>(args, w.dir / "fleet.out");
    CliResult good = w.endpoint(v->url, "lab-good");
    BOOST_TEST_REQUIRE(good.exit_code == 0, good.out + good.err);
    CliResult bad = w.endpoint(v->url, "lab-bad", {"--tamper", "svn-low"});
    BOOST_TEST_REQUIRE(bad.exit_code == 1, bad.out + bad.err);
  }
  // chromium --headless: the page after its script ran (virtual time lets the fetch finish first).
  std::string dom(const std::string& path_and_fragment, const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> a = {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                                  "--user-data-dir=" + (w.dir / "chromium").string(), "--virtual-time-budget=5000"};
    a.insert(a.end(), extra.begin(), extra.end());
    if (extra.empty()) a.push_back("--dump-dom");
    a.push_back(v->url + path_and_fragment);
    CliResult r = run_program(a);
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    return r.out;
  }
};

// One verifier and its two endpoints for both cases (each endpoint is a full measured launch).
Fleet& fx() {
  static Fleet f;
  return f;
}

std::string slurp_token(const std::string& p) {
  const auto b = read_file(p);
  return std::string(b.begin(), b.end());
}

int count(const std::string& s, const std::string& needle) {
  int n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_page_is_one_self_contained_document_and_its_data_needs_a_token) {
  Fleet& f = fx();
  Http anon(f.v->url, "");
  auto r = anon.c.Get("/status");
  BOOST_TEST_REQUIRE(r);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->get_header_value("Content-Type") == "text/html; charset=utf-8");
  const std::string csp = r->get_header_value("Content-Security-Policy");
  BOOST_TEST(csp.find("default-src 'none'; script-src 'sha256-") == 0, csp);
  BOOST_TEST(csp.find("connect-src 'self'") != std::string::npos, csp);
  // No external asset: no src=/href= attribute and no URL in the document; no data in it either.
  BOOST_TEST(!std::regex_search(r->body, std::regex(R"((src|href)\s*=)")), r->body);
  BOOST_TEST(r->body.find("http") == std::string::npos);
  BOOST_TEST(r->body.find("lab-bad") == std::string::npos);
  // The data: relying party or admin only.
  BOOST_TEST(anon.get("/v1/fleet").first == 401);
  BOOST_TEST(Http(f.v->url, slurp_token(f.w.token_file("endpoint", "lab-bad"))).get("/v1/fleet").first == 403);
  auto [c, j] = Http(f.v->url, f.w.rp_bearer).get("/v1/fleet?status=contraindicated");
  BOOST_TEST_REQUIRE(c == 200, j.dump());
  BOOST_TEST_REQUIRE(j["endpoints"].size() == 1u, j.dump());
  BOOST_TEST(j["endpoints"][0]["id"] == "lab-bad");
  BOOST_TEST(j["endpoints"][0]["why"][0]["kind"] == "failure", j.dump());
  BOOST_TEST(j["endpoints"][0]["why"][0]["code"] == "hv_svn_below_minimum", j.dump());
  BOOST_TEST(j["endpoints"][0]["last_seen"].is_number_integer());
  auto [cb, jb] = Http(f.v->url, f.w.rp_bearer).get("/v1/fleet?status=fine");
  BOOST_TEST(cb == 400);
  BOOST_TEST(jb["error"] == "bad_parameter");  // naming it (docs/api.md "filters and paging")
  BOOST_TEST(jb["reason"].get<std::string>().find("\"status\"") != std::string::npos, jb.dump());
}

BOOST_AUTO_TEST_CASE(chromium_shows_the_contraindicated_endpoint_and_its_finding) {
  Fleet& f = fx();
  // Everything: both endpoints, each with its status.
  const std::string all = f.dom("/status#token=" + f.w.rp_bearer);
  BOOST_TEST_REQUIRE(all.find("<body data-state=\"loaded\"") != std::string::npos, all);
  BOOST_TEST(all.find("data-endpoint=\"lab-good\" data-status=\"affirming\"") != std::string::npos, all);
  BOOST_TEST(all.find("data-endpoint=\"lab-bad\" data-status=\"contraindicated\"") != std::string::npos, all);
  BOOST_TEST(all.find(f.w.rp_bearer) == std::string::npos);  // the fragment is gone from the address and the DOM
  // Filtered by status: the contraindicated one only, with its named finding and its last-seen time.
  const std::string bad = f.dom("/status?status=contraindicated#token=" + f.w.rp_bearer);
  BOOST_TEST_REQUIRE(bad.find("<body data-state=\"loaded\"") != std::string::npos, bad);
  BOOST_TEST(bad.find("data-endpoint=\"lab-bad\"") != std::string::npos, bad);
  BOOST_TEST(bad.find("lab-good") == std::string::npos, bad);
  BOOST_TEST(count(bad, "data-endpoint=") == 1, bad);
  BOOST_TEST(bad.find("<li class=\"finding failure\" data-code=\"hv_svn_below_minimum\"><code>hv_svn_below_minimum</code>") != std::string::npos, bad);
  BOOST_TEST(std::regex_search(bad, std::regex(R"(<td class="seen">20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ s ago\)</td>)")), bad);
  BOOST_TEST(bad.find("1 endpoint(s) with status contraindicated") != std::string::npos, bad);

  // A token the verifier refuses: the login form, no endpoint.
  const std::string refused = f.dom("/status#token=not.a.token");
  BOOST_TEST(refused.find("<body data-state=\"login\"") != std::string::npos, refused);
  BOOST_TEST(refused.find("data-endpoint=") == std::string::npos, refused);
  BOOST_TEST(refused.find("token refused (bad_token)") != std::string::npos, refused);

  // The screenshot, kept for people (the report of issue 13).
  const fs::path out = build_dir() / "test-output" / "attest_status_page_test";
  fs::create_directories(out);
  const fs::path png = out / "status.png";
  fs::remove(png);
  f.dom("/status#token=" + f.w.rp_bearer, {"--window-size=1280,400", "--screenshot=" + png.string()});
  BOOST_TEST_REQUIRE(fs::exists(png));
  const auto b = read_file(png);
  BOOST_TEST(b.size() > 2000u);
  BOOST_TEST((b.size() > 8 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G'));
  BOOST_TEST_MESSAGE("status page screenshot: " << png.string() << " (" << b.size() << " bytes)");
}
