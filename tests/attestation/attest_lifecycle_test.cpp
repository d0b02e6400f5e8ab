// Issue 13, lifecycle and policy, against real verifier processes on both
// stores (SQLite; PostgreSQL on a server the test starts): the reference-value
// version history (rollout without a restart, rollback = a new version, groups
// and per-endpoint overrides, the version in every verdict), the endpoint list's
// filters and paging, push staleness marked once by the lease holder of two
// instances (endpoint.stale webhook, /metrics), an idempotent retried push after
// its instance was SIGKILLed, token revocation seen by every instance, and the
// appraisal gate's default width on each store.
#define BOOST_TEST_MODULE attest_lifecycle_test
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <mutex>
#include <regex>
#include <thread>

#include <unistd.h>

#include "attestation/common/encoding.hpp"
#include "attestation/service/verifier_service.hpp"
#include "attestation/service/verifier_store.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/host/keys.hpp"
#include "tests/attestation/pg_server.hpp"
#include "tests/attestation/service_world.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;
namespace bdata = boost::unit_test::data;

namespace {

const char* const kBackends[] = {"sqlite", "postgresql"};

// One store for every instance of a test: its location and the EAR key they share.
struct SharedStore {
  std::string location;
  std::vector<std::string> args;
  SharedStore(const ServiceWorld& w, const std::string& backend, const std::string& name) {
    static int n = 0;
    location = backend == std::string("sqlite") ? "sqlite:" + (w.dir / (name + ".db")).string()
                                                : PgServer::shared().create_database("lc_" + std::to_string(getpid()) + "_" + std::to_string(++n));
    policy::generate_key_files("P-256", (w.dir / name).string());
    args = {"--store", location, "--key", (w.dir / (name + ".key.pem")).string()};
  }
};

std::vector<std::string> join(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A second reference-value set, signed by the same authority: hypervisor SVN at least 99 (the test
// endpoints' launches are contraindicated under it).
std::string strict_reference(const ServiceWorld& w) {
  const policy::EvpKey owner = policy::load_public_key((w.dir / "owner.pub.pem").string());
  const json ref = {{"type", "redoubt.reference-values/1"},
                    {"id", "test-reference-strict"},
                    {"hypervisor", {{"signers", {policy::key_id_hex(owner)}}, {"min_svn", 99}}},
                    {"launch_policy", nullptr}};
  const Bytes cose = attest::sign_reference_values(ref, policy::load_private_key((w.dir / "authority.key.pem").string()));
  return attest::to_base64(cose);
}

std::string b64_file(const std::string& p) { return attest::to_base64(read_file(p)); }

// The newest verdict of an endpoint after one push: (status, reference_values {version, scope, id}).
json last_verdict(const std::string& url, const std::string& id) {
  auto [c, st] = Http(url).get("/v1/endpoints/" + id + "?history=1");
  BOOST_TEST_REQUIRE(c == 200, st.dump());
  BOOST_TEST_REQUIRE(!st["history"].empty(), st.dump());
  return st["history"][0];
}

std::string metrics(const std::string& url) {
  auto [c, m] = Http(url).get("/metrics");
  BOOST_TEST_REQUIRE(c == 200);
  return m["raw"].get<std::string>();
}

int64_t metric(const std::string& text, const std::string& name) {
  std::smatch m;
  const std::string t = text;
  if (!std::regex_search(t, m, std::regex("\n" + std::regex_replace(name, std::regex(R"([{}"\\])"), R"(\$&)") + " ([0-9]+)\n"))) return -1;
  return std::stoll(m[1]);
}

// Endpoints written straight into the shared store (as if appraised long ago): fast, no TPM runs.
void put_fake(const std::string& location, const std::string& id, const std::string& status, int64_t last_seen, const std::string& group = "") {
  auto s = attest::open_store(location);
  attest::EndpointRecord e;
  e.id = id;
  e.ek_public = e.ek_certificate = e.ak_public = Bytes{1};
  e.enrolled = true;
  e.status = status;
  e.last_seen = last_seen;
  s->put_endpoint(e);
  if (!group.empty()) s->set_endpoint_group(id, group);
}

struct Receiver {
  httplib::Server srv;
  int port = 0;
  std::mutex mu;
  std::vector<json> got;
  int answered = 0;
  std::thread t;
  Receiver() {
    srv.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> l(mu);
      res.status = answered++ == 0 ? 503 : 200;  // the first delivery is retried
      if (res.status == 200) got.push_back(json::parse(req.body));
    });
    port = srv.bind_to_any_port("127.0.0.1");
    t = std::thread([this] { srv.listen_after_bind(); });
  }
  ~Receiver() {
    srv.stop();
    t.join();
  }
  std::vector<json> events() {
    std::lock_guard<std::mutex> l(mu);
    return got;
  }
};

}  // namespace

BOOST_DATA_TEST_CASE(reference_values_history_groups_overrides_and_rollback, bdata::make(kBackends), backend) {
  ServiceWorld w;
  SharedStore st(w, backend, "rv");
  VerifierProcess v(join(w.verifier_args(), st.args), w.dir / "rv.out");
  Http h(v.url);
  BOOST_TEST_REQUIRE(w.endpoint(v.url, "a").exit_code == 0);
  BOOST_TEST_REQUIRE(w.endpoint(v.url, "b").exit_code == 0);
  json a = last_verdict(v.url, "a");
  BOOST_TEST(a["status"] == "affirming", a.dump());
  BOOST_TEST(a["reference_values"] == (json{{"version", 1}, {"scope", ""}, {"id", "test-reference-1"}}), a.dump());
  const std::string strict = strict_reference(w), good = b64_file(w.reference);

  // A group's own set: b joins "strict" and is appraised with it, a is not.
  auto [c1, j1] = h.put("/v1/reference-values", json{{"reference_values", strict}, {"group", "strict"}});
  BOOST_TEST_REQUIRE(c1 == 200, j1.dump());
  BOOST_TEST(j1["version"] == 2);
  BOOST_TEST(j1["scope"] == "group:strict");
  BOOST_TEST(h.put("/v1/endpoints/b/group", json{{"group", "strict"}}).first == 200);
  BOOST_TEST(h.put("/v1/endpoints/nobody/group", json{{"group", "strict"}}).first == 404);
  w.endpoint(v.url, "b");
  json b = last_verdict(v.url, "b");
  BOOST_TEST(b["status"] == "contraindicated", b.dump());
  BOOST_TEST(b["reference_values"] == (json{{"version", 2}, {"scope", "group:strict"}, {"id", "test-reference-strict"}}), b.dump());
  w.endpoint(v.url, "a");
  BOOST_TEST(last_verdict(v.url, "a")["status"] == "affirming");
  // A per-endpoint override beats the group.
  auto [c2, j2] = h.put("/v1/reference-values", json{{"reference_values", good}, {"endpoint", "b"}});
  BOOST_TEST_REQUIRE(c2 == 200, j2.dump());
  BOOST_TEST(j2["version"] == 3);
  w.endpoint(v.url, "b");
  b = last_verdict(v.url, "b");
  BOOST_TEST(b["status"] == "affirming", b.dump());
  BOOST_TEST(b["reference_values"]["scope"] == "endpoint:b", b.dump());
  BOOST_TEST(b["reference_values"]["version"] == 3, b.dump());
  // The fleet's set replaced (no restart), then rolled back: a new version with the old content.
  auto [c3, j3] = h.put("/v1/reference-values", json{{"reference_values", strict}});
  BOOST_TEST_REQUIRE(c3 == 200, j3.dump());
  BOOST_TEST(j3["version"] == 4);
  BOOST_TEST(j3["previous"] == "test-reference-1");
  w.endpoint(v.url, "a");
  BOOST_TEST(last_verdict(v.url, "a")["status"] == "contraindicated");
  BOOST_TEST(last_verdict(v.url, "a")["reference_values"]["version"] == 4);
  auto [c4, j4] = h.post("/v1/reference-values/rollback", json{{"version", 1}});
  BOOST_TEST_REQUIRE(c4 == 200, j4.dump());
  BOOST_TEST(j4["version"] == 5);
  BOOST_TEST(j4["rollback_of"] == 1);
  BOOST_TEST(j4["reference_values"] == "test-reference-1");
  BOOST_TEST(h.post("/v1/reference-values/rollback", json{{"version", 99}}).first == 404);
  w.endpoint(v.url, "a");
  a = last_verdict(v.url, "a");
  BOOST_TEST(a["status"] == "affirming", a.dump());
  BOOST_TEST(a["reference_values"]["version"] == 5, a.dump());
  // The history: every version, newest first, with its signer, who and when.
  auto [c5, hist] = Http(v.url, w.rp_bearer).get("/v1/reference-values/history");
  BOOST_TEST_REQUIRE(c5 == 200, hist.dump());
  BOOST_TEST_REQUIRE(hist["history"].size() == 5u, hist.dump());
  const std::string signer = policy::key_id_hex(policy::load_public_key(w.authority_pub));
  std::vector<int64_t> versions;
  for (const json& x : hist["history"]) {
    versions.push_back(x["version"].get<int64_t>());
    BOOST_TEST(x["signer"] == signer);
    BOOST_TEST(x["created"].is_number_integer());
  }
  BOOST_TEST(versions == (std::vector<int64_t>{5, 4, 3, 2, 1}));
  BOOST_TEST(hist["history"][0]["rollback_of"] == 1);
  BOOST_TEST(hist["history"][0]["by"] == "admin");
  BOOST_TEST(hist["history"][4]["by"] == "config");
  BOOST_TEST(Http(v.url).get("/v1/reference-values/history?scope=group:strict").second["history"].size() == 1u);
  auto [c6, j6] = h.get("/v1/reference-values/history?limit=0");
  BOOST_TEST(c6 == 400, j6.dump());
  BOOST_TEST(j6["reason"].template get<std::string>().find("\"limit\"") != std::string::npos, j6.dump());
  // A verdict names the set it was appraised against.
  auto [c7, vd] = h.get("/v1/verdicts/" + std::to_string(a["seq"].get<int64_t>()));
  BOOST_TEST(vd["reference_values"]["version"] == 5, vd.dump());
  // A second instance started on the store afterwards uses version 5 (the config's set is not re-added).
  VerifierProcess v2(join(w.verifier_args(), st.args), w.dir / "rv2.out");
  BOOST_TEST(Http(v2.url).get("/v1/reference-values").second["version"] == 5);
  BOOST_TEST(Http(v2.url).get("/v1/reference-values/history").second["history"].size() == 5u);
}

BOOST_DATA_TEST_CASE(endpoint_list_pages_and_filters, bdata::make(kBackends), backend) {
  ServiceWorld w;
  SharedStore st(w, backend, "ls");
  VerifierProcess v(join(w.verifier_args(), st.args), w.dir / "ls.out");
  const int64_t now = attest::unix_now();
  for (int i = 0; i < 7; ++i) put_fake(st.location, "e" + std::to_string(i), "affirming", now - (i < 2 ? 5000 : 5), i % 2 ? "lab" : "");
  Http h(v.url, w.rp_bearer);
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto [c, j] = h.get("/v1/endpoints?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor));
    BOOST_TEST_REQUIRE(c == 200, j.dump());
    for (const json& e : j["endpoints"]) seen.push_back(e["id"].get<std::string>());
    cursor = j["next_cursor"].is_string() ? j["next_cursor"].template get<std::string>() : "";
    ++pages;
  } while (!cursor.empty() && pages < 10);
  BOOST_TEST(pages == 3);
  BOOST_TEST(seen == (std::vector<std::string>{"e0", "e1", "e2", "e3", "e4", "e5", "e6"}));
  auto ids = [&](const std::string& q) {
    auto [c, j] = h.get("/v1/endpoints?" + q);
    BOOST_TEST(c == 200, q << " " << j.dump());
    std::vector<std::string> out;
    for (const json& e : j["endpoints"]) out.push_back(e["id"].get<std::string>());
    return out;
  };
  using V = std::vector<std::string>;
  BOOST_TEST(ids("status=stale") == (V{"e0", "e1"}));
  BOOST_TEST(ids("group=lab") == (V{"e1", "e3", "e5"}));
  BOOST_TEST(ids("group=lab&status=affirming") == (V{"e3", "e5"}));
  BOOST_TEST(ids("last_seen_before=" + std::to_string(now - 100)) == (V{"e0", "e1"}));
  BOOST_TEST(ids("last_seen_after=" + std::to_string(now - 100) + "&limit=2") == (V{"e2", "e3"}));
  auto [cf, fleet] = h.get("/v1/fleet?status=stale&group=lab");
  BOOST_TEST_REQUIRE(cf == 200, fleet.dump());
  BOOST_TEST(fleet["endpoints"].size() == 1u);
  BOOST_TEST(fleet["endpoints"][0]["why"][0]["code"] == "no_recent_appraisal", fleet.dump());
  // Every bad parameter is a 400 naming it.
  for (const auto& [q, name] : std::vector<std::pair<std::string, std::string>>{{"limit=0", "limit"},
                                                                                {"limit=abc", "limit"},
                                                                                {"status=great", "status"},
                                                                                {"group=a%2Fb", "group"},
                                                                                {"last_seen_before=-1", "last_seen_before"},
                                                                                {"last_seen_after=x", "last_seen_after"},
                                                                                {"cursor=!!", "cursor"},
                                                                                {"cursor=" + attest::to_base64url(attest::to_bytes("x")), "cursor"},
                                                                                {"colour=red", "colour"}}) {
    for (const char* route : {"/v1/endpoints?", "/v1/fleet?"}) {
      auto [c, j] = h.get(route + q);
      BOOST_TEST(c == 400, route << q << " " << j.dump());
      BOOST_TEST(j["error"] == "bad_parameter", j.dump());
      BOOST_TEST(j["reason"].template get<std::string>().find("\"" + name + "\"") != std::string::npos, j.dump());
    }
  }
}

// Push staleness with two instances: each silent endpoint is marked by its lease holder only, the
// endpoint.stale webhook fires once per endpoint, and /metrics counts marks and webhook deliveries.
BOOST_DATA_TEST_CASE(push_staleness_is_marked_once_by_the_lease_holder, bdata::make(kBackends), backend) {
  ServiceWorld w;
  SharedStore st(w, backend, "sl");
  Receiver rx;
  write_file(w.dir / "hook.secret", attest::to_bytes("webhook-secret-for-tests-0123456789"));
  std::filesystem::permissions(w.dir / "hook.secret", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // A lease TTL far above the renew period: no lease changes hands during the test on a loaded machine (a
  // late renewal would otherwise let the other instance take an endpoint over after its stale mark).
  const std::vector<std::string> extra = {"--stale-after", "2", "--lease-ttl-ms", "6000", "--lease-renew-ms", "250", "--webhook",
                                          "http://127.0.0.1:" + std::to_string(rx.port) + "/hook", "--webhook-secret-file", (w.dir / "hook.secret").string(),
                                          "--webhook-backoff-ms", "100"};
  VerifierProcess a(join(join(w.verifier_args(), st.args), join(extra, {"--instance-id", "A"})), w.dir / "a.out");
  VerifierProcess b(join(join(w.verifier_args(), st.args), join(extra, {"--instance-id", "B"})), w.dir / "b.out");
  // Both have heartbeated and each has seen the other, so the endpoints below are shared out once and
  // stay where they are. (A fixed wait let a slow-starting B arrive after A had taken and marked all of
  // them; A then released its surplus to B, and a mark's instance was no longer the lease holder.)
  for (int i = 0; i < 300; ++i) {
    if (metric(metrics(a.url), "redoubt_live_instances") == 2 && metric(metrics(b.url), "redoubt_live_instances") == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_TEST_REQUIRE(metric(metrics(a.url), "redoubt_live_instances") == 2);
  BOOST_TEST_REQUIRE(metric(metrics(b.url), "redoubt_live_instances") == 2);
  const int64_t now = attest::unix_now();
  const int n = 6;
  for (int i = 0; i < n; ++i) put_fake(st.location, "p" + std::to_string(i), "affirming", now - 100);
  put_fake(st.location, "fresh", "affirming", now + 3600);  // seen "in the future": not stale during the test
  std::vector<json> ev;
  for (int i = 0; i < 100 && ev.size() < static_cast<size_t>(n); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ev = rx.events();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // several more rounds: nothing is marked twice
  ev = rx.events();
  std::map<std::string, int> per_endpoint;
  std::map<std::string, int> per_instance;
  for (const json& e : ev) {
    BOOST_TEST(e["event"] == "endpoint.stale", e.dump());
    BOOST_TEST(e["status"] == "stale");
    BOOST_TEST(e["verdict_status"] == "affirming");
    ++per_endpoint[e["endpoint"].get<std::string>()];
    ++per_instance[e["instance"].get<std::string>()];
  }
  BOOST_TEST(ev.size() == static_cast<size_t>(n));
  BOOST_TEST(per_endpoint.size() == static_cast<size_t>(n));
  for (const auto& [id, count] : per_endpoint) BOOST_TEST(count == 1, id);
  BOOST_TEST_MESSAGE("endpoint.stale sent by A: " << per_instance["A"] << ", by B: " << per_instance["B"]);
  // Who marked which is who held the lease: every event's instance is the endpoint's lease holder now.
  auto store = attest::open_store(st.location);
  for (const json& e : ev) {
    const auto lease = store->lease(e["endpoint"].get<std::string>());
    BOOST_TEST_REQUIRE(lease.has_value());
    BOOST_TEST(lease->instance == e["instance"].get<std::string>());
  }
  const std::string ma = metrics(a.url), mb = metrics(b.url);
  BOOST_TEST_MESSAGE("A's /metrics (lifecycle part):\n" << ma.substr(ma.find("# HELP redoubt_endpoints_marked_stale_total")));
  BOOST_TEST(metric(ma, "redoubt_endpoints_marked_stale_total") == per_instance["A"]);
  BOOST_TEST(metric(mb, "redoubt_endpoints_marked_stale_total") == per_instance["B"]);
  BOOST_TEST(metric(ma, "redoubt_endpoints{status=\"stale\"}") == n);
  const std::string sent = "redoubt_webhook_deliveries_total{result=\"sent\"}", retried = "redoubt_webhook_deliveries_total{result=\"retried\"}";
  BOOST_TEST(metric(ma, sent) + metric(mb, sent) == n);
  BOOST_TEST(metric(ma, retried) + metric(mb, retried) == 1);  // the receiver's one 503
  BOOST_TEST(metric(ma, "redoubt_webhook_deliveries_total{result=\"failed\"}") == 0);
  // The lease gauges: the seven endpoints shared out between the two (4 + 3), none taken over.
  BOOST_TEST(metric(ma, "redoubt_leases_held") + metric(mb, "redoubt_leases_held") == n + 1);
  BOOST_TEST(std::max(metric(ma, "redoubt_leases_held"), metric(mb, "redoubt_leases_held")) == 4);
  BOOST_TEST(metric(ma, "redoubt_leases_taken_over_total") + metric(mb, "redoubt_leases_taken_over_total") == 0);
  BOOST_TEST(metric(ma, "redoubt_lease_rounds_total") > 0);
}

// A push retried on another instance after the one that stored its verdict was SIGKILLed before
// answering: the stored verdict, not 409; a different quote over the same nonce is still a replay.
// Then token revocation: refused at once here and, within a lease round, by the other instance.
BOOST_DATA_TEST_CASE(retried_push_is_idempotent_and_revoked_tokens_are_refused_everywhere, bdata::make(kBackends), backend) {
  ServiceWorld w;
  SharedStore st(w, backend, "rt");
  const std::vector<std::string> extra = {"--lease-ttl-ms", "1500", "--lease-renew-ms", "250"};
  auto a = std::make_unique<VerifierProcess>(join(join(w.verifier_args(), st.args), extra), w.dir / "a.out");
  VerifierProcess b(join(join(w.verifier_args(), st.args), extra), w.dir / "b.out");
  BOOST_TEST_REQUIRE(w.endpoint(a->url, "r").exit_code == 0);
  auto [cn, nonce] = Http(a->url).post("/v1/endpoints/r/nonce", json::object());
  BOOST_TEST_REQUIRE(cn == 200, nonce.dump());
  const json ev1 = w.quote(nonce["nonce"].template get<std::string>(), "ep-r", "q1"), ev2 = w.quote(nonce["nonce"].template get<std::string>(), "ep-r", "q2");
  auto [c1, v1] = Http(a->url).post("/v1/endpoints/r/evidence", ev1);
  BOOST_TEST_REQUIRE(c1 == 200, v1.dump());
  a->proc.kill_hard();  // as if it died before its answer reached the endpoint
  a.reset();
  auto [c2, v2] = Http(b.url).post("/v1/endpoints/r/evidence", ev1);
  BOOST_TEST(c2 == 200, v2.dump());
  BOOST_TEST(v2["seq"] == v1["seq"]);
  BOOST_TEST(v2["ear_jws"] == v1["ear_jws"]);
  BOOST_TEST(v2["status"] == v1["status"]);
  BOOST_TEST(v2["retry"] == true);
  BOOST_TEST(Http(b.url).get("/v1/endpoints/r?history=100").second["history"].size() == 2u);  // the enrolment's push and this one: no new verdict
  auto [c3, v3] = Http(b.url).post("/v1/endpoints/r/evidence", ev2);
  BOOST_TEST(c3 == 409, v3.dump());
  BOOST_TEST(v3["error"] == "nonce_reused", v3.dump());

  // Revocation: a relying-party token works on both instances, is revoked on one, refused on both.
  VerifierProcess c(join(join(w.verifier_args(), st.args), extra), w.dir / "c.out");
  const std::vector<uint8_t> tb = read_file(w.token_file("relying-party", "", 7200));
  const std::string tok(tb.begin(), tb.end());
  BOOST_TEST(Http(b.url, tok).get("/v1/endpoints").first == 200);
  BOOST_TEST(Http(c.url, tok).get("/v1/endpoints").first == 200);
  BOOST_TEST(Http(b.url, w.rp_bearer).post("/v1/tokens/revoke", json{{"token", tok}}).first == 403);
  auto [cr, jr] = Http(b.url).post("/v1/tokens/revoke", json{{"token", tok}});
  BOOST_TEST_REQUIRE(cr == 200, jr.dump());
  BOOST_TEST(jr["revoked"] == true);
  auto [cb, jb] = Http(b.url, tok).get("/v1/endpoints");
  BOOST_TEST(cb == 401, jb.dump());
  BOOST_TEST(jb["error"] == "token_revoked", jb.dump());
  int code = 0;
  for (int i = 0; i < 40 && code != 401; ++i) {
    code = Http(c.url, tok).get("/v1/endpoints").first;
    if (code != 401) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST(code == 401);  // within a lease round (250 ms here)
  BOOST_TEST(Http(c.url, w.rp_bearer).get("/v1/endpoints").first == 200);  // other tokens unaffected
  // By jti as well.
  BOOST_TEST(Http(c.url).post("/v1/tokens/revoke", json{{"jti", "not a jti!"}}).first == 400);
}

// The appraisal gate's default width (VerifierService): one appraisal per core online, two with
// PostgreSQL (docs/verifier-performance.md, fourteenth round); a width that is configured is kept.
BOOST_DATA_TEST_CASE(the_appraisal_gate_is_twice_as_wide_on_postgresql, bdata::make(kBackends), backend) {
  ServiceWorld w;
  SharedStore st(w, backend, "gate");
  const size_t cores = static_cast<size_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  auto config = [&](int width) {
    attest::VerifierConfig c;
    c.db_path = st.location;
    c.signing_key = policy::generate_key("P-256");
    c.max_parallel_appraisals = width;
    return c;
  };
  BOOST_TEST(attest::VerifierService(config(0)).parallel_appraisals() == (backend == std::string("postgresql") ? 2 * cores : cores));
  BOOST_TEST(attest::VerifierService(config(3)).parallel_appraisals() == 3u);
}
