// Issue 13 (throughput): a push's verdict compare-and-set is one statement on PostgreSQL (a CTE with
// SELECT … FOR UPDATE) and a BEGIN IMMEDIATE transaction of cached statements on SQLite. Several
// verifier instances (here: store connections) racing with verdicts computed against one clock record
// store exactly one of them; the others store nothing and leave the endpoint's clock and status alone;
// a verdict is never stored twice for one nonce; an unknown endpoint is named.
#define BOOST_TEST_MODULE attest_verdict_race
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <libpq-fe.h>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/encoding.hpp"
#include "attestation/service/verifier_store.hpp"
#include "tests/attestation/pg_server.hpp"
#include "tests/support/launch_fixture.hpp"

using namespace redoubt;
using namespace redoubt::test;
namespace bdata = boost::unit_test::data;
using attest::Bytes;

namespace {

const char* const kBackends[] = {"sqlite", "postgresql"};

std::string place(const std::string& backend, const TempDir& dir) {
  static int n = 0;
  if (backend == "sqlite") return "sqlite:" + (dir / "race.db").string();
  return PgServer::shared().create_database("race_" + std::to_string(getpid()) + "_" + std::to_string(++n));
}

attest::VerdictRecord verdict(const std::string& id, const std::string& status, Bytes nonce) {
  return attest::VerdictRecord{0, id, 1000, status, "{}", "jws." + status, std::move(nonce)};
}

}  // namespace

BOOST_DATA_TEST_CASE(instances_racing_on_one_clock_record_store_exactly_one_verdict, bdata::make(kBackends), backend) {
  TempDir dir;
  const std::string loc = place(backend, dir);
  auto setup = attest::open_store(loc);
  const attest::PendingEnrolment p{"e", Bytes{1, 2}, Bytes{3}, Bytes{7}, "push", "", Bytes(32, 7), 99};
  setup->put_pending(p);
  setup->complete_enrolment(p);
  const attest::ClockState c0{100, 1, 0, true};
  BOOST_TEST_REQUIRE(setup->add_verdict_if_clock(verdict("e", "affirming", Bytes(32, 0xa0)), std::nullopt, c0).has_value());

  constexpr int kInstances = 4, kRounds = 5;
  std::vector<std::unique_ptr<attest::VerifierStore>> inst;
  for (int i = 0; i < kInstances; ++i) inst.push_back(attest::open_store(loc));
  attest::ClockState seen = c0;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> won{0}, lost{0}, failed{0};
    std::atomic<int> winner{-1};
    std::vector<std::thread> ts;
    for (int i = 0; i < kInstances; ++i)
      ts.emplace_back([&, i] {
        const attest::ClockState mine{seen.clock + 10 + static_cast<uint64_t>(i), 1, 0, true};
        try {
          auto r = inst[static_cast<size_t>(i)]->add_verdict_if_clock(verdict("e", i % 2 ? "warning" : "affirming", Bytes(32, static_cast<uint8_t>(round * 16 + i))),
                                                                      std::optional<attest::ClockState>(seen), mine);
          if (r) {
            ++won;
            winner = i;
          } else {
            ++lost;
          }
        } catch (const std::exception&) {
          ++failed;  // e.g. SQLite busy beyond its timeout: nothing stored either
        }
      });
    for (auto& t : ts) t.join();
    BOOST_TEST_CONTEXT(backend << ", round " << round) {
      BOOST_TEST(won.load() == 1);
      BOOST_TEST(lost.load() + failed.load() == kInstances - 1);
      BOOST_TEST(failed.load() == 0);
      BOOST_TEST_REQUIRE(winner.load() >= 0);
      const auto e = setup->endpoint("e");
      BOOST_TEST_REQUIRE(e->clock.has_value());
      BOOST_TEST(e->clock->clock == seen.clock + 10 + static_cast<uint64_t>(winner.load()));  // the winner's clock, nobody else's
      BOOST_TEST(e->status == (winner.load() % 2 ? "warning" : "affirming"));
      BOOST_TEST(setup->verdict_count() == 2 + round);
      seen = *e->clock;
    }
  }
  // One verdict per nonce, whatever the clock says.
  const std::string code = [&] {
    try {
      setup->add_verdict_if_clock(verdict("e", "affirming", Bytes(32, 0xa0)), std::optional<attest::ClockState>(seen), attest::ClockState{seen.clock + 1, 1, 0, true});
    } catch (const attest::AttestError& e) {
      return e.code();
    }
    return std::string("stored");
  }();
  BOOST_TEST(code == "verdict_exists");
  BOOST_TEST(setup->verdict_count() == 1 + kRounds);
  // Not authentic (no new clock): only the status moves, the clock record stays.
  BOOST_TEST(setup->add_verdict_if_clock(verdict("e", "contraindicated", Bytes(32, 0xb0)), std::optional<attest::ClockState>(seen), std::nullopt).has_value());
  BOOST_TEST(setup->endpoint("e")->status == "contraindicated");
  BOOST_TEST(setup->endpoint("e")->clock->clock == seen.clock);
  BOOST_TEST(setup->endpoint("e")->last_seen == 1000);
  const std::string unknown = [&] {
    try {
      setup->add_verdict_if_clock(verdict("nobody", "affirming", Bytes(32, 0xc0)), std::nullopt, c0);
    } catch (const attest::AttestError& e) {
      return e.code();
    }
    return std::string("stored");
  }();
  BOOST_TEST(unknown == "unknown_endpoint");
  BOOST_TEST(setup->integrity_check() == "ok");
}

// The push path's compare-and-set under load (issue 13: in PostgreSQL it joins the verdicts' group
// commit): two instances × 4 threads race on 3 endpoints, each attempt moving the clock it read by one,
// while one-shot verdicts fill the same batches. Exactly one attempt wins per clock record: each
// endpoint's clock ends at the number of its stored verdicts, and every seq is distinct.
BOOST_DATA_TEST_CASE(compare_and_set_verdicts_raced_by_two_instances_store_one_per_clock_record, bdata::make(kBackends), backend) {
  TempDir dir;
  const std::string loc = place(backend, dir);
  auto a = attest::open_store(loc);
  auto b = attest::open_store(loc);
  const int endpoints = 3, per_instance = 4, attempts = 30;
  for (int e = 0; e < endpoints; ++e) {
    const attest::PendingEnrolment p{"c" + std::to_string(e), Bytes{1, 2}, Bytes{3}, Bytes{static_cast<uint8_t>(e)}, "push", "", Bytes(32, static_cast<uint8_t>(e)), 99};
    a->put_pending(p);
    a->complete_enrolment(p);
  }
  std::atomic<int> errors{0}, oneshots{0};
  std::vector<std::atomic<int>> won(endpoints);
  std::vector<std::thread> ts;
  std::mutex seqs_mu;
  std::vector<int64_t> seqs;
  for (int t = 0; t < 2 * per_instance; ++t)
    ts.emplace_back([&, t] {
      attest::VerifierStore& s = t < per_instance ? *a : *b;
      for (int i = 0; i < attempts; ++i) {
        const int e = (t + i) % endpoints;
        const std::string id = "c" + std::to_string(e);
        Bytes nonce(32, 0);
        nonce[0] = static_cast<uint8_t>(t), nonce[1] = static_cast<uint8_t>(i), nonce[2] = 0xca;
        try {
          const auto seen = s.endpoint(id)->clock;
          const attest::ClockState next{seen ? seen->clock + 1 : 1, 1, 0, true};
          if (auto seq = s.add_verdict_if_clock(verdict(id, i % 2 ? "warning" : "affirming", nonce), seen, next)) {
            ++won[e];
            std::lock_guard<std::mutex> l(seqs_mu);
            seqs.push_back(*seq);
          }
          if (i % 3 == 0) {
            nonce[2] = 0x05;
            const int64_t seq = s.add_verdict(verdict("", "contraindicated", nonce), std::nullopt);
            ++oneshots;
            std::lock_guard<std::mutex> l(seqs_mu);
            seqs.push_back(seq);
          }
        } catch (const std::exception&) {
          ++errors;
        }
      }
    });
  for (auto& t : ts) t.join();
  BOOST_TEST(errors.load() == 0);
  BOOST_TEST(std::set<int64_t>(seqs.begin(), seqs.end()).size() == seqs.size());  // no seq given twice
  int stored = 0;
  for (int e = 0; e < endpoints; ++e) {
    const std::string id = "c" + std::to_string(e);
    const auto ep = a->endpoint(id);
    BOOST_TEST_REQUIRE(ep->clock.has_value());
    BOOST_TEST(won[e].load() >= 1);
    BOOST_TEST(ep->clock->clock == static_cast<uint64_t>(won[e].load()));  // one winner per clock record 0, 1, 2, …
    BOOST_TEST(a->verdicts(id, 1000).size() == static_cast<size_t>(won[e].load()));
    stored += won[e].load();
  }
  BOOST_TEST(oneshots.load() == 2 * per_instance * (attempts / 3));
  BOOST_TEST(a->verdict_count() == stored + oneshots.load());
}

// Issue 13 (throughput): verdicts stored concurrently share transactions (group commit; on PostgreSQL
// one pipeline per batch, each statement's result handed back by position). Each caller's seq must
// read back exactly the verdict it stored — its endpoint, time, status, summary (quotes, a backslash,
// non-ASCII), its EAR (a JWS kept in parts, or a string kept whole) and its nonce (none, or bytes
// with a zero among them) — and on PostgreSQL batches must have happened.
BOOST_DATA_TEST_CASE(verdicts_stored_in_concurrent_batches_read_back_each_as_given, bdata::make(kBackends), backend) {
  TempDir dir;
  const std::string where = place(backend, dir);
  auto s = attest::open_store(where);
  constexpr int threads = 12, per_thread = 25;
  std::vector<std::vector<std::pair<int64_t, attest::VerdictRecord>>> stored(threads);
  std::atomic<int> errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const int k = t * 1000 + i;
        attest::VerdictRecord v;
        v.endpoint_id = k % 4 == 0 ? "ep-" + std::to_string(t) : "";
        v.iat = 5000 + k;
        v.status = k % 3 == 0 ? "affirming" : k % 3 == 1 ? "warning" : "contraindicated";
        v.summary_json = "{\"k\":" + std::to_string(k) + ",\"m\":\"a \\\"quoted\\\" \\\\ Grüße\"}";
        const std::string payload = "{\"k\":" + std::to_string(k) + "}";
        v.ear_jws = k % 5 == 0 ? "not a jws " + std::to_string(k)
                               : "eyJhbGciOiJFUzI1NiJ9." + attest::to_base64url(attest::to_bytes(payload)) + "." + attest::to_base64url(Bytes(64, uint8_t(k)));
        if (k % 2 == 0) v.nonce = {uint8_t(t), 0x00, uint8_t(i), 0xff, uint8_t(k >> 8), uint8_t(k)};
        try {
          const int64_t seq = s->add_verdict(v, std::nullopt);
          stored[t].emplace_back(seq, v);
        } catch (const std::exception&) {
          ++errors;
        }
      }
    });
  for (auto& t : ts) t.join();
  BOOST_TEST(errors.load() == 0);
  std::set<int64_t> seqs;
  for (const auto& per : stored)
    for (const auto& [seq, v] : per) {
      BOOST_TEST_CONTEXT("seq " << seq << ", iat " << v.iat) {
        seqs.insert(seq);
        const auto got = s->verdict(seq);
        BOOST_TEST_REQUIRE(got.has_value());
        BOOST_TEST(got->endpoint_id == v.endpoint_id);
        BOOST_TEST(got->iat == v.iat);
        BOOST_TEST(got->status == v.status);
        BOOST_TEST(got->summary_json == v.summary_json);
        BOOST_TEST(got->ear_jws == v.ear_jws);
        if (!v.nonce.empty()) {
          const auto by_nonce = s->verdict_by_nonce(v.nonce);
          BOOST_TEST_REQUIRE(by_nonce.has_value());
          BOOST_TEST(by_nonce->seq == seq);
        }
      }
    }
  BOOST_TEST(seqs.size() == static_cast<size_t>(threads * per_thread));  // every seq distinct
  BOOST_TEST(s->verdict_count() == threads * per_thread);
  if (std::string(backend) != "postgresql") return;
  // Rows one transaction wrote share its xmin: fewer transactions than verdicts = batches happened.
  PGconn* c = PQconnectdb(where.c_str());
  PGresult* r = PQexec(c, "SELECT count(DISTINCT xmin::text) FROM verdicts");
  BOOST_TEST_REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
  const int transactions = std::atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(c);
  BOOST_TEST(transactions < threads * per_thread, transactions << " transactions for " << threads * per_thread << " verdicts");
}
