// The verifier's store schema on both backends (issue 13): a fresh store has the current version,
// a newer one is refused, older ones are migrated in place keeping their data, and (schema 5) a
// verdict's EAR reads back byte for byte however PostgreSQL keeps it.
#define BOOST_TEST_MODULE attest_store_schema
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "attestation/common/encoding.hpp"
#include "attestation/service/ear_parts.hpp"
#include "attestation/verifier/ear_result.hpp"
#include "policy/host/keys.hpp"
#include "tests/attestation/store_places.hpp"

using namespace redoubt;
using namespace redoubt::test;
using namespace redoubt::test::store;
namespace bdata = boost::unit_test::data;

BOOST_DATA_TEST_CASE(fresh_store_has_the_current_schema, bdata::make(kBackends), backend) {
  Place p(backend);
  auto s = attest::open_store(p.location);
  BOOST_TEST(s->backend() == backend);
  BOOST_TEST(s->schema_version() == attest::kStoreSchemaVersion);
  BOOST_TEST(s->integrity_check() == "ok");
  BOOST_TEST(s->verdict_count() == 0);
  s.reset();
  BOOST_TEST(attest::open_store(p.location)->schema_version() == attest::kStoreSchemaVersion);  // opening again changes nothing
}

BOOST_DATA_TEST_CASE(a_newer_schema_is_refused, bdata::make(kBackends), backend) {
  Place p(backend);
  attest::open_store(p.location).reset();
  raw(p.location, "UPDATE meta SET value='9' WHERE key='schema_version'");
  try {
    attest::open_store(p.location);
    BOOST_FAIL("opened a schema 9 store");
  } catch (const attest::AttestError& e) {
    BOOST_TEST(e.code() == "db");
    BOOST_TEST(std::string(e.what()).find("schema version 9 is newer") != std::string::npos, e.what());
  }
}

// A version-2 database (before leases) is migrated in place: its endpoints and verdicts are kept.
BOOST_DATA_TEST_CASE(schema_2_is_migrated_keeping_the_data, bdata::make(kBackends), backend) {
  Place p(backend);
  const bool pg = std::string(backend) == "postgresql";
  const std::string blob = pg ? "BYTEA" : "BLOB", integer = pg ? "BIGINT" : "INTEGER";
  raw(p.location, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  raw(p.location, "CREATE TABLE endpoints(id TEXT PRIMARY KEY, ek_public " + blob + " NOT NULL, ek_certificate " + blob + " NOT NULL, ak_public " + blob +
                      " NOT NULL, mode TEXT NOT NULL, agent_url TEXT NOT NULL DEFAULT '', enrolled " + integer + " NOT NULL DEFAULT 0, challenge_hash " +
                      blob + ", challenge_expires " + integer + " NOT NULL DEFAULT 0, clock " + integer + ", reset_count " + integer +
                      ", restart_count " + integer + ", safe " + integer + ", status TEXT NOT NULL DEFAULT 'none', last_error TEXT NOT NULL DEFAULT '', last_seen " +
                      integer + " NOT NULL DEFAULT 0)");
  raw(p.location, "CREATE TABLE nonces(nonce " + blob + " PRIMARY KEY, endpoint_id TEXT NOT NULL, expires " + integer + " NOT NULL, used " + integer +
                      " NOT NULL DEFAULT 0)");
  raw(p.location, std::string("CREATE TABLE verdicts(seq ") + (pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT") +
                      ", endpoint_id TEXT NOT NULL, iat " + integer + " NOT NULL, status TEXT NOT NULL, summary TEXT NOT NULL, ear_jws TEXT NOT NULL)");
  raw(p.location, "CREATE TABLE pending_enrolments(id TEXT PRIMARY KEY, ek_public " + blob + " NOT NULL, ek_certificate " + blob + " NOT NULL, ak_public " +
                      blob + " NOT NULL, mode TEXT NOT NULL, agent_url TEXT NOT NULL, challenge_hash " + blob + " NOT NULL, challenge_expires " + integer +
                      " NOT NULL)");
  const std::string x = pg ? "'\\x0102'" : "x'0102'";
  raw(p.location, "INSERT INTO endpoints(id, ek_public, ek_certificate, ak_public, mode, enrolled, status, last_seen) VALUES('old', " + x + ", " + x +
                      ", " + x + ", 'push', 1, 'affirming', 77)");
  raw(p.location, "INSERT INTO verdicts(endpoint_id, iat, status, summary, ear_jws) VALUES('old', 77, 'affirming', '{}', 'j')");
  raw(p.location, "INSERT INTO meta(key, value) VALUES('schema_version', '2')");
  auto s = attest::open_store(p.location);
  BOOST_TEST(s->schema_version() == attest::kStoreSchemaVersion);
  auto e = s->endpoint("old");
  BOOST_TEST_REQUIRE(e.has_value());
  BOOST_TEST(e->status == "affirming");
  BOOST_TEST(e->last_seen == 77);
  BOOST_TEST((e->ak_public == Bytes{1, 2}));
  BOOST_TEST(s->verdict_count() == 1);
  BOOST_TEST(s->verdicts("old", 5).at(0).ear_jws == "j");  // an old row's EAR, stored whole, reads back as it was
  BOOST_TEST(s->lease_round("a", 1000, 100).owned == std::vector<std::string>{"old"});  // the new tables work
}

namespace {
// The enrolled endpoint "old" the migration tests leave in a store before turning its schema back.
attest::EndpointRecord old_endpoint() {
  attest::EndpointRecord e;
  e.id = "old";
  e.ek_public = e.ek_certificate = e.ak_public = Bytes{1};
  e.status = "affirming";
  e.last_seen = 77;
  return e;
}

// The first column of the first row of `sql` on a PostgreSQL location, as text.
std::string pg_value(const std::string& location, const std::string& sql) {
  PGconn* c = PQconnectdb(location.c_str());
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
  const std::string v = ok ? PQgetvalue(r, 0, 0) : std::string();
  const std::string m = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error(sql + ": " + m);
  return v;
}

// An ES256 EAR JWS the size the fleet benchmark's verdicts have (payload ~3.8 KB of JSON claims).
std::string big_jws(int i) {
  std::string payload = "{\"eat_profile\":\"tag:github.com,2023:veraison/ear\",\"i\":" + std::to_string(i) + ",\"submods\":{";
  for (int k = 0; k < 40; ++k)
    payload += (k ? "," : "") + std::string("\"claim-") + std::to_string(k) + "\":{\"ear.status\":\"contraindicated\",\"sha256\":\"" + std::string(64, char('a' + k % 6)) + "\"}";
  payload += "}}";
  const Bytes sig(64, uint8_t(i));
  return "eyJhbGciOiJFUzI1NiJ9." + attest::to_base64url(attest::to_bytes(payload)) + "." + attest::to_base64url(sig);
}
}  // namespace

// Schema 5 (issue 13 throughput): a verdict's EAR reads back byte for byte whatever the store keeps of
// it — a JWS, a string that is not one, a JWS whose base64url is not canonical (the last character's
// unused bits set: it would not re-encode to itself). On PostgreSQL a JWS is kept in parts (ear_jws
// empty) and rows past 4080 bytes compressed, so two verdicts of this size share an 8 KiB heap page
// (schema 4 kept rows up to 8160 bytes uncompressed: each took a page of its own).
BOOST_DATA_TEST_CASE(a_verdicts_ear_reads_back_byte_for_byte, bdata::make(kBackends), backend) {
  Place p(backend);
  auto s = attest::open_store(p.location);
  const std::string summary = "{\"failures\":[" + std::string(800, ' ') + "]}";
  const std::vector<std::string> ears = {big_jws(0), "j", "a.b", "eyJhbGciOiJFUzI1NiJ9.e30.AB", "eyJhbGciOiJFUzI1NiJ9.e31.AA", ".e30.AA", "x.y.z.w"};
  std::vector<int64_t> seqs;
  for (const std::string& e : ears) seqs.push_back(s->add_verdict(attest::VerdictRecord{0, "", 1000, "affirming", summary, e, {}}, std::nullopt));
  for (size_t i = 0; i < ears.size(); ++i) {
    BOOST_TEST_CONTEXT(ears[i].substr(0, 30)) {
      BOOST_TEST(s->verdict(seqs[i])->ear_jws == ears[i]);
      BOOST_TEST(s->verdict(seqs[i])->summary_json == summary);
    }
  }
  if (std::string(backend) != "postgresql") return;
  const std::string first = std::to_string(seqs[0]);
  BOOST_TEST(pg_value(p.location, "SELECT ear_jws = '' AND ear_payload IS NOT NULL FROM verdicts WHERE seq = " + first) == "t");
  // "e31" and "AB" carry set unused bits: not split, kept whole.
  BOOST_TEST(pg_value(p.location, "SELECT count(*) FROM verdicts WHERE ear_jws <> ''") == "6");
  for (int i = 1; i <= 20; ++i) (void)s->add_verdict(attest::VerdictRecord{0, "", 1000, "affirming", summary, big_jws(i), {}}, std::nullopt);
  const std::string pages = pg_value(p.location, "SELECT count(DISTINCT (ctid::text::point)[0]) FROM verdicts WHERE seq > " + std::to_string(seqs.back()));
  BOOST_TEST(std::stoi(pages) <= 10, pages << " heap pages for 20 verdicts");
  BOOST_TEST(pg_value(p.location, "SELECT count(*) FROM verdicts WHERE ear_jws = ''") == "21");
}

// The parts the verifier hands the store with a JWS it has just signed (ear_parts_of, issue 13
// throughput) are exactly split_jws's of that JWS, and a verdict stored with them reads back as the
// signed JWS byte for byte on both backends (PostgreSQL keeps the parts as given).
BOOST_DATA_TEST_CASE(a_signed_ears_given_parts_read_back_as_the_jws, bdata::make(kBackends), backend) {
  Place p(backend);
  auto s = attest::open_store(p.location);
  const policy::EvpKey key = policy::generate_key("P-256");
  // JSON payloads of 2, 7 and 1002 bytes (length mod 3 = 2, 1, 0: every base64url tail) and of ~5 KB.
  for (const std::string& payload : {std::string("{}"), std::string("{\"a\":1}"), "\"" + std::string(1000, 'x') + "\"", "\"" + big_jws(3) + "\""}) {
    std::array<uint8_t, 64> sig{};
    const std::string jws = attest::jws_sign_es256_payload(payload, key, "kid-1", &sig);
    const attest::EarParts given = attest::ear_parts_of(jws, payload, sig);
    const std::optional<attest::EarParts> split = attest::split_jws(jws);
    BOOST_TEST_REQUIRE(split.has_value());
    BOOST_TEST(given.header == split->header);
    BOOST_TEST((given.payload == split->payload));
    BOOST_TEST((given.signature == split->signature));
    BOOST_TEST(attest::join_jws(given) == jws);
    attest::VerdictRecord v{0, "", 1000, "affirming", "{}", jws, {}};
    v.ear_parts = given;
    const int64_t seq = s->add_verdict(v, std::nullopt);
    BOOST_TEST(s->verdict(seq)->ear_jws == jws);
    BOOST_TEST(attest::jws_verify_es256(s->verdict(seq)->ear_jws, key) == nlohmann::json::parse(payload));
  }
  if (std::string(backend) == "postgresql") BOOST_TEST(pg_value(p.location, "SELECT count(*) FROM verdicts WHERE ear_jws = ''") == "4");
}

// A schema-3 database is migrated to 4 in place: endpoints, verdicts and the reference-value setting are
// kept; the endpoint has no group, the history starts empty (the service records the setting as version 1).
BOOST_DATA_TEST_CASE(schema_3_is_migrated_to_4_keeping_the_data, bdata::make(kBackends), backend) {
  Place p(backend);
  {
    auto s = attest::open_store(p.location);
    s->put_endpoint(old_endpoint());
    s->add_verdict(verdict("old", "affirming", Bytes{7}), std::nullopt);
    s->put_setting("reference_values", "b64");
  }
  // Back to schema 3 as a schema-3 verifier left it.
  raw(p.location, "DROP TABLE reference_sets");
  raw(p.location, "DROP TABLE revoked_tokens");
  raw(p.location, "ALTER TABLE endpoints DROP COLUMN group_name");
  raw(p.location, "ALTER TABLE endpoints DROP COLUMN stale_marked");
  if (std::string(backend) == "postgresql")  // schema 5's columns (its verdict, one-dot "jws.affirming", is kept whole)
    raw(p.location, "ALTER TABLE verdicts DROP COLUMN ear_protected, DROP COLUMN ear_payload, DROP COLUMN ear_sig");
  raw(p.location, "UPDATE meta SET value='3' WHERE key='schema_version'");
  auto s = attest::open_store(p.location);
  BOOST_TEST(s->schema_version() == attest::kStoreSchemaVersion);
  BOOST_TEST(s->integrity_check() == "ok");
  BOOST_TEST(s->endpoint("old")->last_seen == 77);
  BOOST_TEST(s->verdict_count() == 1);
  BOOST_TEST(*s->setting("reference_values") == "b64");
  BOOST_TEST(s->reference_history(std::nullopt, 10).empty());
  attest::EndpointQuery q;
  auto rows = s->list_endpoints(q);
  BOOST_TEST_REQUIRE(rows.size() == 1u);
  BOOST_TEST(rows[0].group == "");
  BOOST_TEST(s->set_endpoint_group("old", "lab"));
  BOOST_TEST(!s->set_endpoint_group("nobody", "lab"));
  const bool groups_ok = s->endpoint_groups() == std::vector<std::pair<std::string, std::string>>{{"old", "lab"}};
  BOOST_TEST(groups_ok);
}

namespace {
// Column `col` of every row of `sql` on an SQLite location (its one `?`, if any, bound to `arg`).
std::vector<std::string> sqlite_column(const std::string& location, const std::string& sql, int col, const char* arg = nullptr) {
  sqlite3* db = nullptr;
  sqlite3_open(location.substr(7).c_str(), &db);
  sqlite3_stmt* st = nullptr;
  std::vector<std::string> out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    if (arg) sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, col)));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// The query plan of `sql` as one text: SQLite's EXPLAIN QUERY PLAN details, or PostgreSQL's EXPLAIN
// (sequential scans off, so that a tiny table still shows whether an index *can* serve the query).
std::string plan_of(const std::string& location, const std::string& sql) {
  if (location.rfind("sqlite:", 0) != 0) return pg_value(location, "SET enable_seqscan = off; EXPLAIN (FORMAT JSON) " + sql);
  std::string out;
  for (const std::string& line : sqlite_column(location, "EXPLAIN QUERY PLAN " + sql, 3)) out += line + "\n";
  return out;
}

std::string index_sql(const std::string& location, const std::string& name) {
  if (location.rfind("sqlite:", 0) != 0) return pg_value(location, "SELECT indexdef FROM pg_indexes WHERE indexname = '" + name + "'");
  const auto rows = sqlite_column(location, "SELECT sql FROM sqlite_master WHERE type='index' AND name=?", 0, name.c_str());
  return rows.empty() ? "" : rows[0];
}
}  // namespace

// Schema 6: a schema-5 store (full indexes on verdicts) gets partial ones that leave one-shot verdicts
// out; its verdicts are kept, a nonce still stores at most one verdict, and the by-endpoint and
// by-nonce lookups can still use the indexes (their plans name them).
BOOST_DATA_TEST_CASE(schema_5_is_migrated_to_6_with_partial_verdict_indexes, bdata::make(kBackends), backend) {
  Place p(backend);
  {
    auto s = attest::open_store(p.location);
    s->put_endpoint(old_endpoint());
    s->add_verdict(verdict("old", "affirming", Bytes{7}), std::nullopt);
    s->add_verdict(verdict("", "contraindicated"), std::nullopt);  // one-shot
  }
  // Back to schema 5 as a schema-5 verifier left it.
  raw(p.location, "DROP INDEX verdicts_by_nonce");
  raw(p.location, "CREATE UNIQUE INDEX verdicts_by_nonce ON verdicts(nonce)");
  raw(p.location, "DROP INDEX verdicts_by_endpoint");
  raw(p.location, "CREATE INDEX verdicts_by_endpoint ON verdicts(endpoint_id, seq)");
  raw(p.location, "UPDATE meta SET value='5' WHERE key='schema_version'");
  BOOST_TEST(index_sql(p.location, "verdicts_by_nonce").find("WHERE") == std::string::npos);
  auto s = attest::open_store(p.location);
  BOOST_TEST(s->schema_version() == 6);
  BOOST_TEST(s->integrity_check() == "ok");
  const std::string by_nonce = index_sql(p.location, "verdicts_by_nonce"), by_endpoint = index_sql(p.location, "verdicts_by_endpoint");
  BOOST_TEST(by_nonce.find("nonce IS NOT NULL") != std::string::npos, by_nonce);
  BOOST_TEST(by_endpoint.find("<> ''") != std::string::npos, by_endpoint);
  BOOST_TEST(s->verdict_count() == 2);
  const auto old = s->verdicts("old", 5);
  BOOST_TEST_REQUIRE(old.size() == 1u);
  BOOST_TEST(old[0].ear_jws == "jws.affirming");
  BOOST_TEST(s->verdicts("", 5).empty());  // one-shot verdicts belong to no endpoint
  BOOST_TEST(s->verdict_by_nonce(Bytes{7}).has_value());
  BOOST_TEST(code_of([&] { s->add_verdict(verdict("old", "warning", Bytes{7}), std::nullopt); }) == "verdict_exists");  // still unique
  s->add_verdict(verdict("", "contraindicated"), std::nullopt);  // one-shot verdicts (NULL nonce) never collide
  BOOST_TEST(s->verdict_count() == 3);
  const bool pg = std::string(backend) == "postgresql";
  const std::string p1 = pg ? "$1" : "?", p2 = pg ? "$2" : "?";
  const std::string ep = plan_of(p.location, "SELECT seq FROM verdicts WHERE endpoint_id=" + (pg ? std::string("'old'") : p1) +
                                                 " AND endpoint_id <> '' ORDER BY seq DESC LIMIT 5");
  BOOST_TEST(ep.find("verdicts_by_endpoint") != std::string::npos, ep);
  const std::string np = plan_of(p.location, std::string("SELECT seq FROM verdicts WHERE nonce = ") + (pg ? "'\\x07'::bytea" : p2));
  BOOST_TEST(np.find("verdicts_by_nonce") != std::string::npos, np);
}
