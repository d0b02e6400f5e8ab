// The verifier's store, the same checks on both backends (issue 13): SQLite in a
// temporary file and PostgreSQL on a server of the test's own (pg_server.hpp).
// Enrolment exactly once, nonces, verdicts at most once per nonce, the clock
// compare-and-set, the leases several instances share, the lifecycle tables.
// Schema and migrations: attest_store_schema_test.cpp.
#define BOOST_TEST_MODULE attest_store
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "tests/attestation/store_places.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt;
using namespace redoubt::test;
using namespace redoubt::test::store;
namespace bdata = boost::unit_test::data;
using attest::Bytes;

BOOST_DATA_TEST_CASE(endpoints_put_get_list_delete, bdata::make(kBackends), backend) {
  Place p(backend);
  auto s = attest::open_store(p.location);
  attest::EndpointRecord e;
  e.id = "b";
  e.ek_public = Bytes{0, 1, 0xff};  // bytes with a NUL and 0xff survive
  e.ek_certificate = Bytes(3000, 0x30);
  e.ak_public = Bytes{9};
  e.mode = "pull";
  e.agent_url = "https://b.example:8443";
  e.enrolled = true;
  e.clock = attest::ClockState{(uint64_t{1} << 40) + 5, 3, 4, true};
  e.status = "warning";
  e.last_seen = 1234;
  s->put_endpoint(e);
  e.id = "a";
  e.mode = "push";
  e.clock.reset();
  s->put_endpoint(e);
  auto b = s->endpoint("b");
  BOOST_TEST_REQUIRE(b.has_value());
  BOOST_TEST((b->ek_public == Bytes{0, 1, 0xff}));
  BOOST_TEST(b->ek_certificate.size() == 3000u);
  BOOST_TEST(b->agent_url == "https://b.example:8443");
  BOOST_TEST_REQUIRE(b->clock.has_value());
  BOOST_TEST(b->clock->clock == (uint64_t{1} << 40) + 5);
  BOOST_TEST(b->clock->reset_count == 3u);
  BOOST_TEST(b->clock->restart_count == 4u);
  BOOST_TEST(b->clock->safe);
  BOOST_TEST(!s->endpoint("a")->clock.has_value());
  BOOST_TEST(s->endpoints().size() == 2u);
  BOOST_TEST(s->endpoints().front().id == "a");  // ordered by id
  BOOST_TEST(s->endpoints("pull").size() == 1u);
  s->add_verdict(verdict("b", "warning"), std::nullopt);
  s->set_poll_error("b", "agent_unreachable: x");
  BOOST_TEST(s->endpoint("b")->last_error == "agent_unreachable: x");
  BOOST_TEST(s->delete_endpoint("b"));
  BOOST_TEST(!s->delete_endpoint("b"));
  BOOST_TEST(!s->endpoint("b").has_value());
  BOOST_TEST(s->verdicts("b", 10).size() == 1u);  // verdicts stay
  s->put_setting("reference_values", "v1");
  s->put_setting("reference_values", "v2");
  BOOST_TEST(*s->setting("reference_values") == "v2");
  BOOST_TEST(!s->setting("nothing").has_value());
}

// Enrolment: a new AK resets the clock baseline, the same AK keeps it; a pending enrolment is
// completed exactly once (a second activation of it, on this or another instance, is refused).
BOOST_DATA_TEST_CASE(enrolment_completes_exactly_once, bdata::make(kBackends), backend) {
  Place p(backend);
  auto s = attest::open_store(p.location);
  auto other = attest::open_store(p.location);  // a second instance on the same database
  s->put_pending(pending("e", 1));
  BOOST_TEST(!s->endpoint("e").has_value());  // nothing enrolled before activation
  s->complete_enrolment(pending("e", 1));
  BOOST_TEST(code_of([&] { other->complete_enrolment(pending("e", 1)); }) == "no_challenge");
  BOOST_TEST(!s->pending("e").has_value());
  s->add_verdict(verdict("e", "affirming"), attest::ClockState{500, 1, 0, true});
  s->put_pending(pending("e", 1));  // re-enrolment, same AK: clock kept
  s->complete_enrolment(pending("e", 1));
  BOOST_TEST_REQUIRE(s->endpoint("e")->clock.has_value());
  BOOST_TEST(s->endpoint("e")->clock->clock == 500u);
  s->put_pending(pending("e", 2));  // new AK: clock baseline reset, status and verdicts kept
  BOOST_TEST(code_of([&] { s->complete_enrolment(pending("e", 3)); }) == "no_challenge");  // not the pending one
  s->complete_enrolment(pending("e", 2));
  auto e = s->endpoint("e");
  BOOST_TEST(!e->clock.has_value());
  BOOST_TEST((e->ak_public == Bytes{2}));
  BOOST_TEST(e->status == "affirming");
  BOOST_TEST(s->verdicts("e", 5).size() == 1u);
}

BOOST_DATA_TEST_CASE(nonces_are_single_use_and_named_when_refused, bdata::make(kBackends), backend) {
  Place p(backend);
  auto s = attest::open_store(p.location);
  const Bytes n1(32, 1), n2(32, 2), n3(32, 3);
  s->add_nonce(n1, "e", 100);
  s->add_nonce(n2, "e", 50);
  s->add_nonce(n3, "f", 100);
  BOOST_TEST(code_of([&] { s->consume_nonce(n1, "e", 60); }) == "");
  BOOST_TEST(code_of([&] { s->consume_nonce(n1, "e", 60); }) == "nonce_reused");
  BOOST_TEST(code_of([&] { s->consume_nonce(n2, "e", 60); }) == "nonce_expired");
  BOOST_TEST(code_of([&] { s->consume_nonce(n3, "e", 60); }) == "nonce_wrong_endpoint");
  BOOST_TEST(code_of([&] { s->consume_nonce(Bytes(32, 4), "e", 60); }) == "nonce_unknown");
  BOOST_TEST(s->purge_nonces(60) == 1);  // n2 (expires 50)
  BOOST_TEST(code_of([&] { s->consume_nonce(n2, "e", 60); }) == "nonce_unknown");
}

// Two instances given the same quote at once: exactly one of them spends its nonce.
BOOST_DATA_TEST_CASE(a_nonce_raced_by_two_instances_is_spent_once, bdata::make(kBackends), backend) {
  Place p(backend);
  auto a = attest::open_store(p.location);
  auto b = attest::open_store(p.location);
  int won = 0;
  for (int round = 0; round < 20; ++round) {
    const Bytes n(32, static_cast<uint8_t>(round));
    a->add_nonce(n, "e", 100);
    std::atomic<int> ok{0}, reused{0};
    auto go = [&](attest::VerifierStore& s) {
      const std::string c = code_of([&] { s.consume_nonce(n, "e", 10); });
      if (c.empty()) ++ok;
      else if (c == "nonce_reused") ++reused;
    };
    std::thread t1([&] { go(*a); }), t2([&] { go(*b); });
    t1.join();
    t2.join();
    BOOST_TEST(ok == 1);
    BOOST_TEST(reused == 1);
    won += ok;
  }
  BOOST_TEST(won == 20);
}

BOOST_DATA_TEST_CASE(a_verdict_is_stored_at_most_once_per_nonce, bdata::make(kBackends), backend) {
  Place p(backend);
  auto s = attest::open_store(p.location);
  s->complete_enrolment((s->put_pending(pending("e", 1)), pending("e", 1)));
  const int64_t a = s->add_verdict(verdict("e", "affirming", Bytes(32, 7)), attest::ClockState{10, 1, 0, true});
  BOOST_TEST(code_of([&] { s->add_verdict(verdict("e", "warning", Bytes(32, 7)), std::nullopt); }) == "verdict_exists");
  BOOST_TEST(s->verdict_count() == 1);
  BOOST_TEST(s->endpoint("e")->status == "affirming");  // the refused one changed nothing
  const int64_t o1 = s->add_verdict(verdict("", "affirming"), std::nullopt);  // one-shot verdicts have no nonce
  const int64_t o2 = s->add_verdict(verdict("", "affirming"), std::nullopt);
  BOOST_TEST(a < o1);
  BOOST_TEST(o1 < o2);
  BOOST_TEST(s->verdict(a)->ear_jws == "jws.affirming");
  BOOST_TEST(s->endpoint("e")->last_seen == 1000);
  BOOST_TEST(s->integrity_check() == "ok");
}

// The compare-and-set several instances rely on: a verdict computed against a clock record that has
// moved meanwhile is not stored (the caller appraises again).
BOOST_DATA_TEST_CASE(a_verdict_against_a_moved_clock_is_not_stored, bdata::make(kBackends), backend) {
  Place p(backend);
  auto s = attest::open_store(p.location);
  s->complete_enrolment((s->put_pending(pending("e", 1)), pending("e", 1)));
  const std::optional<attest::ClockState> none;
  const attest::ClockState c1{10, 1, 0, true}, c2{20, 1, 0, true};
  auto seq = s->add_verdict_if_clock(verdict("e", "affirming", Bytes(32, 1)), none, c1);
  BOOST_TEST(seq.has_value());
  // Another instance appraised against "no clock yet" too: refused, nothing written.
  BOOST_TEST(!s->add_verdict_if_clock(verdict("e", "warning", Bytes(32, 2)), none, c2).has_value());
  BOOST_TEST(s->verdict_count() == 1);
  BOOST_TEST(s->endpoint("e")->clock->clock == 10u);
  BOOST_TEST(s->add_verdict_if_clock(verdict("e", "warning", Bytes(32, 2)), std::optional<attest::ClockState>(c1), c2).has_value());
  BOOST_TEST(s->endpoint("e")->clock->clock == 20u);
  BOOST_TEST(s->endpoint("e")->status == "warning");
}

// Leases: a second instance gets its fair share once the first gives up what is over it; a dead
// instance's endpoints are taken over once its leases lapse; an orderly stop frees them at once.
BOOST_DATA_TEST_CASE(leases_share_the_fleet_and_a_dead_instances_are_taken_over, bdata::make(kBackends), backend) {
  Place p(backend);
  auto a = attest::open_store(p.location);
  auto b = attest::open_store(p.location);
  auto c = attest::open_store(p.location);
  for (int i = 0; i < 9; ++i) a->complete_enrolment((a->put_pending(pending("ep" + std::to_string(i), 1)), pending("ep" + std::to_string(i), 1)));
  const int64_t ttl = 1000;
  int64_t t = 100000;
  BOOST_TEST(a->lease_round("A", t, ttl).owned.size() == 9u);  // alone: everything
  attest::LeaseRound rb = b->lease_round("B", t, ttl);
  BOOST_TEST(rb.live_instances == 2);
  BOOST_TEST(rb.owned.empty());  // nothing free yet
  attest::LeaseRound ra = a->lease_round("A", t + 100, ttl);
  BOOST_TEST(ra.released == 4);  // over ceil(9/2) = 5
  BOOST_TEST(ra.owned.size() == 5u);
  rb = b->lease_round("B", t + 200, ttl);
  BOOST_TEST(rb.owned.size() == 4u);
  BOOST_TEST(rb.taken_over == 0);  // free ones, not lapsed ones
  c->lease_round("C", t + 300, ttl);
  a->lease_round("A", t + 400, ttl);
  b->lease_round("B", t + 500, ttl);
  const auto rc = c->lease_round("C", t + 600, ttl);
  const auto ra2 = a->lease_round("A", t + 600, ttl), rb2 = b->lease_round("B", t + 600, ttl);
  BOOST_TEST(ra2.owned.size() == 3u);
  BOOST_TEST(rb2.owned.size() == 3u);
  BOOST_TEST(rc.owned.size() == 3u);
  std::set<std::string> all;
  for (const auto* r : {&ra2, &rb2, &rc}) all.insert(r->owned.begin(), r->owned.end());
  BOOST_TEST(all.size() == 9u);  // disjoint and complete
  BOOST_TEST(a->lease(rb2.owned.front())->instance == "B");

  // C dies (no more rounds). Before its leases lapse nobody takes them; after, A and B do.
  t += 600;
  BOOST_TEST(a->lease_round("A", t + ttl - 100, ttl).owned.size() == 3u);
  BOOST_TEST(b->lease_round("B", t + ttl - 100, ttl).owned.size() == 3u);
  const auto late_a = a->lease_round("A", t + ttl + 1, ttl);
  BOOST_TEST(late_a.live_instances == 2);
  BOOST_TEST(late_a.taken_over == 2);  // up to ceil(9/2) = 5
  const auto late_b = b->lease_round("B", t + ttl + 2, ttl);
  BOOST_TEST(late_b.taken_over == 1);
  BOOST_TEST(late_a.owned.size() + late_b.owned.size() == 9u);

  // An orderly stop: B's endpoints are free at A's next round, without waiting for a lapse.
  b->release_instance("B");
  const auto solo = a->lease_round("A", t + ttl + 3, ttl);
  BOOST_TEST(solo.owned.size() == 9u);
  BOOST_TEST(solo.taken_over == 0);
  BOOST_TEST(solo.live_instances == 1);
  // A deleted endpoint's lease goes with it.
  BOOST_TEST(a->delete_endpoint("ep0"));
  BOOST_TEST(!a->lease("ep0").has_value());
  BOOST_TEST(a->lease_round("A", t + ttl + 4, ttl).owned.size() == 8u);
}

BOOST_AUTO_TEST_CASE(open_store_chooses_the_backend_by_the_location) {
  TempDir d;
  BOOST_TEST(attest::open_store((d / "plain.db").string())->backend() == "sqlite");
  BOOST_TEST(attest::open_store("sqlite:" + (d / "s.db").string())->backend() == "sqlite");
  BOOST_TEST(code_of([&] { attest::open_store("mysql://x/y"); }) == "db");
  BOOST_TEST(code_of([&] { attest::open_store("sqlite:"); }) == "db");
  // A server that is not there: the error names it, never the password.
  try {
    attest::open_store("postgresql://u:s3cret@/nodb?host=" + (d / "none").string() + "&port=1&connect_timeout=2");
    BOOST_FAIL("connected to nothing");
  } catch (const attest::AttestError& e) {
    BOOST_TEST(e.code() == "db");
    BOOST_TEST(std::string(e.what()).find("cannot connect to PostgreSQL postgresql://u:***@") != std::string::npos, e.what());
    BOOST_TEST(std::string(e.what()).find("s3cret") == std::string::npos, e.what());
  }
  BOOST_TEST(attest::redact_store_location("postgresql://h/db?user=u&password=pw&x=1") == "postgresql://h/db?user=u&password=***&x=1");
}

// `verifier serve --store`: a shared store needs the EAR key given; a lease must outlive its renewal period.
BOOST_AUTO_TEST_CASE(serve_refuses_a_postgresql_store_without_a_key_and_a_lease_shorter_than_its_renewal) {
  CliResult a = run_redoubt({"verifier", "serve", "--listen", "127.0.0.1:0", "--insecure-no-auth", "--store", "postgresql://u:pw@/x?host=/nonexistent"});
  BOOST_TEST(a.exit_code != 0);
  BOOST_TEST(a.err.find("needs --key EAR.key.pem") != std::string::npos, a.err);
  BOOST_TEST(a.err.find("pw") == std::string::npos, a.err);  // the password is not shown
  TempDir d;
  CliResult b = run_redoubt({"verifier", "serve", "--listen", "127.0.0.1:0", "--insecure-no-auth", "--db", (d / "v.db").string(), "--lease-ttl-ms", "1000",
                             "--lease-renew-ms", "1000"});
  BOOST_TEST(b.exit_code != 0);
  BOOST_TEST(b.err.find("--lease-renew-ms must be less than --lease-ttl-ms") != std::string::npos, b.err);
}

// ------------------------------------------------------------ schema 4 (lifecycle and policy)

// Filters (effective status, group, last seen) and paging by id, on the database's own SQL.
BOOST_DATA_TEST_CASE(endpoint_list_filters_and_pages, bdata::make(kBackends), backend) {
  Place p(backend);
  auto s = attest::open_store(p.location);
  const int64_t now = 10000;
  auto put = [&](const std::string& id, const std::string& mode, const std::string& status, int64_t seen, const std::string& group) {
    attest::EndpointRecord e;
    e.id = id;
    e.ek_public = e.ek_certificate = e.ak_public = Bytes{1};
    e.mode = mode;
    e.status = status;
    e.last_seen = seen;
    s->put_endpoint(e);
    if (!group.empty()) s->set_endpoint_group(id, group);
  };
  put("e1", "push", "affirming", now - 10, "lab");      // affirming
  put("e2", "push", "affirming", now - 1000, "lab");    // stale (push, > 600 s)
  put("e3", "pull", "contraindicated", now - 1000, "");  // unreachable
  put("e4", "push", "none", 0, "");                      // never appraised
  put("e5", "pull", "warning", now - 5, "office");       // warning
  auto ids = [&](attest::EndpointQuery q) {
    q.now = now;
    std::vector<std::string> out;
    for (const auto& r : s->list_endpoints(q)) out.push_back(r.id);
    return out;
  };
  using V = std::vector<std::string>;
  attest::EndpointQuery q;
  BOOST_TEST(ids(q) == (V{"e1", "e2", "e3", "e4", "e5"}));
  q.status = "stale";
  BOOST_TEST(ids(q) == (V{"e2"}));
  q.status = "unreachable";
  BOOST_TEST(ids(q) == (V{"e3"}));
  q.status = "contraindicated";  // its last verdict, but it is unreachable now: not listed as contraindicated
  BOOST_TEST(ids(q) == V{});
  q.status = "none";
  BOOST_TEST(ids(q) == (V{"e4"}));
  q = {};
  q.group = "lab";
  BOOST_TEST(ids(q) == (V{"e1", "e2"}));
  q.group = "";
  BOOST_TEST(ids(q) == (V{"e3", "e4"}));
  q = {};
  q.seen_before = now - 100;
  BOOST_TEST(ids(q) == (V{"e2", "e3", "e4"}));
  q = {};
  q.seen_after = now - 100;
  BOOST_TEST(ids(q) == (V{"e1", "e5"}));
  q = {};
  q.limit = 2;
  BOOST_TEST(ids(q) == (V{"e1", "e2"}));
  q.after_id = "e2";
  BOOST_TEST(ids(q) == (V{"e3", "e4"}));
  q.after_id = "e4";
  BOOST_TEST(ids(q) == (V{"e5"}));
}

// The history keeps every set in order; the newest version of each scope is the one in force.
BOOST_DATA_TEST_CASE(reference_history_and_current_versions, bdata::make(kBackends), backend) {
  Place p(backend);
  auto s = attest::open_store(p.location);
  const int64_t v1 = s->add_reference_set({0, "", "ref-a", "k1", "admin", 100, "AAAA", 0});
  const int64_t v2 = s->add_reference_set({0, "group:lab", "ref-b", "k1", "admin", 101, "BBBB", 0});
  const int64_t v3 = s->add_reference_set({0, "", "ref-c", "k1", "ops", 102, "CCCC", 0});
  const int64_t v4 = s->add_reference_set({0, "", "ref-a", "k1", "ops", 103, "AAAA", v1});
  BOOST_TEST(v1 < v2);
  BOOST_TEST(v3 < v4);
  const bool current_ok = s->current_reference_versions() == std::vector<std::pair<std::string, int64_t>>{{"", v4}, {"group:lab", v2}};
  BOOST_TEST(current_ok);
  auto all = s->reference_history(std::nullopt, 10);
  BOOST_TEST_REQUIRE(all.size() == 4u);
  BOOST_TEST(all[0].version == v4);
  BOOST_TEST(all[0].rollback_of == v1);
  BOOST_TEST(all[0].by == "ops");
  BOOST_TEST(all[0].cose_b64 == "AAAA");
  BOOST_TEST(s->reference_history(std::string("group:lab"), 10).size() == 1u);
  BOOST_TEST(s->reference_history(std::string(""), 2).size() == 2u);
  BOOST_TEST(s->reference_set(v2)->ref_id == "ref-b");
  BOOST_TEST(!s->reference_set(v4 + 100).has_value());
}

// Idempotent retries find the verdict of a nonce; revoked token ids are kept until their exp;
// an endpoint is marked stale once per silence (a second instance's try is refused).
BOOST_DATA_TEST_CASE(verdict_by_nonce_revocations_and_stale_marks, bdata::make(kBackends), backend) {
  Place p(backend);
  auto s = attest::open_store(p.location);
  auto other = attest::open_store(p.location);
  attest::EndpointRecord e;
  e.id = "q";
  e.ek_public = e.ek_certificate = e.ak_public = Bytes{1};
  s->put_endpoint(e);
  BOOST_TEST(!s->mark_stale("q", 0));  // never appraised: nothing to mark
  const int64_t seq = s->add_verdict(verdict("q", "affirming", Bytes{5, 6}), attest::ClockState{1, 0, 0, true});
  auto v = other->verdict_by_nonce(Bytes{5, 6});
  BOOST_TEST_REQUIRE(v.has_value());
  BOOST_TEST(v->seq == seq);
  BOOST_TEST(v->ear_jws == "jws.affirming");
  BOOST_TEST(!s->verdict_by_nonce(Bytes{5, 7}).has_value());
  const int64_t seen = s->endpoint("q")->last_seen;
  BOOST_TEST(s->mark_stale("q", seen));
  BOOST_TEST(!other->mark_stale("q", seen));  // exactly once
  BOOST_TEST(!s->mark_stale("q", seen + 1));  // not for a last_seen it does not have
  s->add_verdict(verdict("q", "affirming", Bytes{5, 8}), attest::ClockState{2, 0, 0, true});
  // Seen again (same iat in this test): the mark for that last_seen was made; a new silence needs a new last_seen.
  raw(p.location, "UPDATE endpoints SET last_seen = 2000 WHERE id = 'q'");
  BOOST_TEST(other->mark_stale("q", 2000));
  s->revoke_token("jti-1", 500);
  s->revoke_token("jti-2", 50);
  s->revoke_token("jti-1", 400);  // a second revocation never shortens it
  BOOST_TEST(other->revoked_tokens(100) == std::vector<std::string>{"jti-1"});
  BOOST_TEST(other->revoked_tokens(0) == (std::vector<std::string>{"jti-1", "jti-2"}));
  BOOST_TEST(s->purge_revoked_tokens(100) == 1);
  BOOST_TEST(s->revoked_tokens(0) == std::vector<std::string>{"jti-1"});
  BOOST_TEST(s->revoked_tokens(501).empty());
}

// Issue 13 (throughput): concurrent verdicts are group-committed on SQLite (several in one
// transaction). Each caller still gets its own seq for its own record, every acknowledged verdict is
// stored once, and a verdict that fails on its own (a nonce already holding a verdict) fails alone,
// even when it shared a transaction with others.
BOOST_DATA_TEST_CASE(concurrent_verdicts_each_stored_once_with_their_own_seq, bdata::make(kBackends), backend) {
  Place p(backend);
  auto s = attest::open_store(p.location);
  const int threads = 8, each = 25;
  for (int t = 0; t < threads; ++t) {  // and an endpoint per thread: its verdicts (in the same batches) move its clock
    s->put_pending(pending("e" + std::to_string(t), static_cast<uint8_t>(t)));
    s->complete_enrolment(pending("e" + std::to_string(t), static_cast<uint8_t>(t)));
  }
  std::vector<std::vector<std::pair<int64_t, std::string>>> got(threads);
  std::atomic<int> dup_ok{0}, dup_exists{0}, other_errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < each; ++i) {
        const std::string tag = "t" + std::to_string(t) + "-" + std::to_string(i);
        try {
          // Thread 0 and 1 each also try to store a verdict for the same nonce, in the middle of the stream.
          if (i == each / 2 && t < 2) {
            const std::string c = code_of([&] { s->add_verdict(verdict("", "dup" + std::to_string(t), Bytes(32, 0xd0)), std::nullopt); });
            ++(c.empty() ? dup_ok : c == "verdict_exists" ? dup_exists : other_errors);
          }
          got[t].emplace_back(s->add_verdict(attest::VerdictRecord{0, "", 1000 + i, "affirming", "{\"tag\":\"" + tag + "\"}", "jws." + tag, {}}, std::nullopt), tag);
          s->add_verdict(verdict("e" + std::to_string(t), i % 2 ? "warning" : "affirming"), attest::ClockState{100u + static_cast<uint64_t>(i), 1, 0, true});
        } catch (const std::exception&) {
          ++other_errors;
        }
      }
    });
  for (auto& t : ts) t.join();
  BOOST_TEST(other_errors.load() == 0);
  BOOST_TEST(dup_ok.load() == 1);
  BOOST_TEST(dup_exists.load() == 1);
  std::set<int64_t> seqs;
  for (const auto& g : got)
    for (const auto& [seq, tag] : g) {
      seqs.insert(seq);
      const auto v = s->verdict(seq);
      BOOST_TEST_REQUIRE(v.has_value());
      BOOST_TEST(v->ear_jws == "jws." + tag);  // its own record under its own seq
      BOOST_TEST(v->summary_json == "{\"tag\":\"" + tag + "\"}");
    }
  BOOST_TEST(seqs.size() == static_cast<size_t>(threads * each));  // no two callers got one seq
  BOOST_TEST(s->verdict_count() == 2 * threads * each + 1);        // + the one duplicate-nonce verdict stored
  for (int t = 0; t < threads; ++t) {
    const auto e = s->endpoint("e" + std::to_string(t));
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST(e->status == "affirming");  // its last verdict's (i = 24), with its clock
    BOOST_TEST_REQUIRE(e->clock.has_value());
    BOOST_TEST(e->clock->clock == 100u + each - 1);
    BOOST_TEST(s->verdicts("e" + std::to_string(t), 100).size() == static_cast<size_t>(each));
  }
}
