#include "attestation/service/verifier_store_pg.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>

#include "attestation/common/attest_error.hpp"
#include "attestation/service/pg_conn.hpp"
#include "attestation/service/verifier_store_sql.hpp"

namespace redoubt::attest {
using pg_detail::A;
using pg_detail::conn_error;
using pg_detail::Null;
using pg_detail::Res;

namespace {

// Advisory-lock keys (PostgreSQL 15 §9.27.10): one for migrations, one for lease rounds.
constexpr int64_t kMigrateLock = 0x7265646f75620001;
constexpr int64_t kLeaseLock = 0x7265646f75620002;

EndpointRecord read_endpoint(const Res& r, int i) {
  EndpointRecord e;
  e.id = r.text(i, 0);
  e.ek_public = r.bytes(i, 1);
  e.ek_certificate = r.bytes(i, 2);
  e.ak_public = r.bytes(i, 3);
  e.mode = r.text(i, 4);
  e.agent_url = r.text(i, 5);
  e.enrolled = r.i64(i, 6) != 0;
  e.challenge_hash = r.bytes(i, 7);
  e.challenge_expires = r.i64(i, 8);
  if (!r.is_null(i, 9))
    e.clock = ClockState{static_cast<uint64_t>(r.i64(i, 9)), static_cast<uint32_t>(r.i64(i, 10)), static_cast<uint32_t>(r.i64(i, 11)), r.i64(i, 12) != 0};
  e.status = r.text(i, 13);
  e.last_error = r.text(i, 14);
  e.last_seen = r.i64(i, 15);
  return e;
}

constexpr const char* kEndpointCols =
    "id, ek_public, ek_certificate, ak_public, mode, agent_url, enrolled, challenge_hash, challenge_expires, "
    "clock, reset_count, restart_count, safe, status, last_error, last_seen";
constexpr const char* kPendingCols = "id, ek_public, ek_certificate, ak_public, mode, agent_url, challenge_hash, challenge_expires";

}  // namespace

PgStore::PgStore(const std::string& url, int connections) : url_(url) {
  try {
    for (int i = 0; i < std::max(1, connections); ++i) {
      PGconn* c = PQconnectdb(url.c_str());
      if (!c || PQstatus(c) != CONNECTION_OK) {
        const std::string m = conn_error(c);
        PQfinish(c);
        throw AttestError("db", "cannot connect to PostgreSQL " + redact_store_location(url) + ": " + m, 500);
      }
      PQclear(PQexec(c, "SET client_min_messages = warning"));  // no NOTICEs of CREATE ... IF NOT EXISTS on stderr
      all_.push_back(c);
      idle_.push_back(c);
      prepared_[c];  // every connection's entry exists before any is used: lookups never insert
    }
    migrate();
  } catch (...) {
    for (PGconn* c : all_) PQfinish(c);
    all_.clear();
    throw;
  }
}

PgStore::~PgStore() {
  for (PGconn* c : all_) PQfinish(c);
}

PGconn* PgStore::acquire() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return !idle_.empty(); });
  PGconn* c = idle_.back();
  idle_.pop_back();
  l.unlock();
  if (PQstatus(c) != CONNECTION_OK) {  // the server restarted, or the connection broke: try once more
    PQreset(c);
    prepared_.at(c).clear();  // a new session: its prepared statements are gone (only this thread holds c)
  }
  return c;
}

void PgStore::release(PGconn* c) {
  {
    std::lock_guard<std::mutex> l(mu_);
    idle_.push_back(c);
  }
  cv_.notify_one();
}

void PgStore::migrate() {
  Conn c(*this);
  c.begin();
  c.exec("SELECT pg_advisory_xact_lock($1)", {A(kMigrateLock)});  // instances starting together migrate once
  c.exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  Res v = c.exec("SELECT value FROM meta WHERE key='schema_version'");
  const int version = v.rows() ? std::stoi(v.text(0, 0)) : 0;
  if (version > kStoreSchemaVersion)
    throw AttestError("db", "database schema version " + std::to_string(version) + " is newer than this verifier's (" +
                                std::to_string(kStoreSchemaVersion) + ")", 500);
  auto set_version = [&](int n) {
    c.exec("INSERT INTO meta(key, value) VALUES('schema_version', $1) ON CONFLICT(key) DO UPDATE SET value = excluded.value", {A(std::to_string(n))});
  };
  // The same steps as SqliteStore::migrate, in PostgreSQL's types.
  if (version < 1) {
    c.exec(
        "CREATE TABLE endpoints(id TEXT PRIMARY KEY, ek_public BYTEA NOT NULL, ek_certificate BYTEA NOT NULL, ak_public BYTEA NOT NULL,"
        " mode TEXT NOT NULL, agent_url TEXT NOT NULL DEFAULT '', enrolled BIGINT NOT NULL DEFAULT 0, challenge_hash BYTEA,"
        " challenge_expires BIGINT NOT NULL DEFAULT 0, clock BIGINT, reset_count BIGINT, restart_count BIGINT, safe BIGINT,"
        " status TEXT NOT NULL DEFAULT 'none', last_error TEXT NOT NULL DEFAULT '')");
    c.exec("CREATE TABLE nonces(nonce BYTEA PRIMARY KEY, endpoint_id TEXT NOT NULL, expires BIGINT NOT NULL, used BIGINT NOT NULL DEFAULT 0)");
    c.exec(
        "CREATE TABLE verdicts(seq BIGSERIAL PRIMARY KEY, endpoint_id TEXT NOT NULL, iat BIGINT NOT NULL,"
        " status TEXT NOT NULL, summary TEXT NOT NULL, ear_jws TEXT NOT NULL)");
    c.exec("CREATE INDEX verdicts_by_endpoint ON verdicts(endpoint_id, seq)");
    set_version(1);
  }
  if (version < 2) {
    c.exec("ALTER TABLE endpoints ADD COLUMN last_seen BIGINT NOT NULL DEFAULT 0");
    c.exec("UPDATE endpoints SET last_seen = COALESCE((SELECT MAX(iat) FROM verdicts WHERE endpoint_id = endpoints.id), 0)");
    c.exec(
        "CREATE TABLE pending_enrolments(id TEXT PRIMARY KEY, ek_public BYTEA NOT NULL, ek_certificate BYTEA NOT NULL, ak_public BYTEA NOT NULL,"
        " mode TEXT NOT NULL, agent_url TEXT NOT NULL, challenge_hash BYTEA NOT NULL, challenge_expires BIGINT NOT NULL)");
    c.exec(
        "INSERT INTO pending_enrolments SELECT id, ek_public, ek_certificate, ak_public, mode, agent_url, challenge_hash, challenge_expires"
        " FROM endpoints WHERE enrolled = 0 AND challenge_hash IS NOT NULL");
    c.exec("DELETE FROM endpoints WHERE enrolled = 0");
    set_version(2);
  }
  if (version < 3) {
    c.exec("CREATE TABLE instances(id TEXT PRIMARY KEY, expires_ms BIGINT NOT NULL)");
    c.exec("CREATE TABLE leases(endpoint_id TEXT PRIMARY KEY, instance_id TEXT NOT NULL, expires_ms BIGINT NOT NULL)");
    c.exec("ALTER TABLE verdicts ADD COLUMN nonce BYTEA");
    c.exec("CREATE UNIQUE INDEX verdicts_by_nonce ON verdicts(nonce)");  // NULLs (one-shot verdicts) are distinct
    set_version(3);
  }
  if (version < 4) {
    c.exec(
        "CREATE TABLE reference_sets(version BIGSERIAL PRIMARY KEY, scope TEXT NOT NULL, ref_id TEXT NOT NULL, signer TEXT NOT NULL,"
        " by_whom TEXT NOT NULL, created BIGINT NOT NULL, cose TEXT NOT NULL, rollback_of BIGINT NOT NULL DEFAULT 0)");
    c.exec("CREATE INDEX reference_sets_by_scope ON reference_sets(scope, version)");
    c.exec("ALTER TABLE endpoints ADD COLUMN group_name TEXT NOT NULL DEFAULT ''");
    c.exec("ALTER TABLE endpoints ADD COLUMN stale_marked BIGINT NOT NULL DEFAULT -1");
    c.exec("CREATE TABLE revoked_tokens(jti TEXT PRIMARY KEY, exp BIGINT NOT NULL)");
    set_version(4);
  }
  if (version < 5) {
    // Issue 13 (throughput): a verdict's EAR in parts (ear_parts.hpp). Each row held its EAR JWS as
    // base64url text (~5.3 KB in the benchmark) and its findings (~0.8 KB): one 8 KiB heap page per
    // verdict, so every INSERT extended the table (zeroing and writing a page) — most of
    // PostgreSQL's ~120 us per verdict. The payload as bytes (JSON) compresses (below); old rows
    // keep ear_jws, new rows leave it empty. SQLite keeps the whole JWS (SqliteStore::migrate).
    c.exec("ALTER TABLE verdicts ADD COLUMN ear_protected TEXT, ADD COLUMN ear_payload BYTEA, ADD COLUMN ear_sig BYTEA");
    set_version(5);
  }
  if (version < 6) {  // as SqliteStore::migrate: the verdicts' indexes skip one-shot verdicts (verifier_store_sql.hpp)
    for (const char* stmt : sql::kVerdictIndexes) c.exec(stmt);
    set_version(6);
  }
  // Storage parameters, not schema changes: set once on any schema, the version stays.
  // A row is compressed only past toast_tuple_target (PostgreSQL 15 §73.2, CREATE TABLE
  // "toast_tuple_target"): 4080 bytes (two rows a page) compresses a verdict's payload and findings
  // in place (lz4 where the server has it, §73.2 "default_toast_compression"; pglz otherwise) before
  // anything is moved out of line. (Before schema 5 it was 8160: the base64url JWS hardly shrinks,
  // and pglz over it cost ~10 % of the backend's CPU per verdict.)
  if (Res r = c.exec("SELECT 1 FROM pg_class WHERE oid = 'verdicts'::regclass AND 'toast_tuple_target=4080' = ANY(COALESCE(reloptions, '{}'))"); !r.rows())
    c.exec("ALTER TABLE verdicts SET (toast_tuple_target = 4080)");
  if (Res r = c.exec("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"); r.rows()) {
    if (Res a = c.exec("SELECT 1 FROM pg_attribute WHERE attrelid = 'verdicts'::regclass AND attname = 'ear_payload' AND attcompression = 'l'"); !a.rows())
      c.exec("ALTER TABLE verdicts ALTER COLUMN ear_payload SET COMPRESSION lz4, ALTER COLUMN summary SET COMPRESSION lz4");
  }
  c.commit();
}

int PgStore::schema_version() {
  Conn c(*this);
  Res r = c.exec("SELECT value FROM meta WHERE key='schema_version'");
  return r.rows() ? std::stoi(r.text(0, 0)) : 0;
}

std::optional<EndpointRecord> PgStore::endpoint(const std::string& id) {
  Conn c(*this);
  Res r = c.prepared(std::string("SELECT ") + kEndpointCols + " FROM endpoints WHERE id=$1", {A(id)});
  if (!r.rows()) return std::nullopt;
  return read_endpoint(r, 0);
}

std::vector<EndpointRecord> PgStore::endpoints(const std::string& mode) {
  Conn c(*this);
  Res r = c.exec(std::string("SELECT ") + kEndpointCols + " FROM endpoints WHERE ($1 = '' OR mode = $1) ORDER BY id", {A(mode)});
  std::vector<EndpointRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_endpoint(r, i));
  return out;
}

void PgStore::put_endpoint(const EndpointRecord& e) {
  Conn c(*this);
  auto opt = [&](uint32_t v) { return e.clock ? A(int64_t{v}) : Null(); };
  c.exec(std::string("INSERT INTO endpoints(") + kEndpointCols +
             ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) ON CONFLICT(id) DO UPDATE SET ek_public=excluded.ek_public,"
             " ek_certificate=excluded.ek_certificate, ak_public=excluded.ak_public, mode=excluded.mode, agent_url=excluded.agent_url,"
             " enrolled=excluded.enrolled, challenge_hash=excluded.challenge_hash, challenge_expires=excluded.challenge_expires,"
             " clock=excluded.clock, reset_count=excluded.reset_count, restart_count=excluded.restart_count, safe=excluded.safe,"
             " status=excluded.status, last_error=excluded.last_error, last_seen=excluded.last_seen",
         {A(e.id), A(e.ek_public), A(e.ek_certificate), A(e.ak_public), A(e.mode), A(e.agent_url), A(int64_t{e.enrolled}),
          e.challenge_hash.empty() ? Null() : A(e.challenge_hash), A(e.challenge_expires), e.clock ? A(static_cast<int64_t>(e.clock->clock)) : Null(), opt(e.clock ? e.clock->reset_count : 0),
          opt(e.clock ? e.clock->restart_count : 0), opt(e.clock ? uint32_t{e.clock->safe} : 0), A(e.status), A(e.last_error), A(e.last_seen)});
}

bool PgStore::delete_endpoint(const std::string& id) {
  Conn c(*this);
  c.begin();
  const int64_t n = c.exec("DELETE FROM endpoints WHERE id=$1", {A(id)}).affected();
  const int64_t m = c.exec("DELETE FROM pending_enrolments WHERE id=$1", {A(id)}).affected();
  c.exec("DELETE FROM nonces WHERE endpoint_id=$1", {A(id)});
  c.exec("DELETE FROM leases WHERE endpoint_id=$1", {A(id)});
  c.commit();
  return n + m > 0;
}

std::optional<PendingEnrolment> PgStore::pending(const std::string& id) {
  Conn c(*this);
  Res r = c.prepared(std::string("SELECT ") + kPendingCols + " FROM pending_enrolments WHERE id=$1", {A(id)});
  if (!r.rows()) return std::nullopt;
  return PendingEnrolment{r.text(0, 0), r.bytes(0, 1), r.bytes(0, 2), r.bytes(0, 3), r.text(0, 4), r.text(0, 5), r.bytes(0, 6), r.i64(0, 7)};
}

void PgStore::put_pending(const PendingEnrolment& p) {
  Conn c(*this);
  c.exec(std::string("INSERT INTO pending_enrolments(") + kPendingCols +
             ") VALUES($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT(id) DO UPDATE SET ek_public=excluded.ek_public, ek_certificate=excluded.ek_certificate,"
             " ak_public=excluded.ak_public, mode=excluded.mode, agent_url=excluded.agent_url, challenge_hash=excluded.challenge_hash,"
             " challenge_expires=excluded.challenge_expires",
         {A(p.id), A(p.ek_public), A(p.ek_certificate), A(p.ak_public), A(p.mode), A(p.agent_url), A(p.challenge_hash), A(p.challenge_expires)});
}

void PgStore::drop_pending(const std::string& id) {
  Conn c(*this);
  c.exec("DELETE FROM pending_enrolments WHERE id=$1", {A(id)});
}

void PgStore::complete_enrolment(const PendingEnrolment& p) {
  Conn c(*this);
  c.begin();
  // Exactly once, whichever instance the activation reached: this very pending enrolment is consumed first.
  if (c.exec("DELETE FROM pending_enrolments WHERE id=$1 AND ak_public=$2 AND challenge_hash=$3", {A(p.id), A(p.ak_public), A(p.challenge_hash)}).affected() == 0)
    throw AttestError("no_challenge", "endpoint " + p.id + " has no such pending enrolment any more (activated or replaced meanwhile)", 409);
  // A new AK resets the clock baseline; status, last_seen and verdicts are kept.
  c.exec(
      "INSERT INTO endpoints(id, ek_public, ek_certificate, ak_public, mode, agent_url, enrolled) VALUES($1,$2,$3,$4,$5,$6,1)"
      " ON CONFLICT(id) DO UPDATE SET"
      " clock = CASE WHEN endpoints.ak_public = excluded.ak_public THEN endpoints.clock END,"
      " reset_count = CASE WHEN endpoints.ak_public = excluded.ak_public THEN endpoints.reset_count END,"
      " restart_count = CASE WHEN endpoints.ak_public = excluded.ak_public THEN endpoints.restart_count END,"
      " safe = CASE WHEN endpoints.ak_public = excluded.ak_public THEN endpoints.safe END,"
      " ek_public = excluded.ek_public, ek_certificate = excluded.ek_certificate, ak_public = excluded.ak_public, mode = excluded.mode,"
      " agent_url = excluded.agent_url, enrolled = 1, last_error = ''",
      {A(p.id), A(p.ek_public), A(p.ek_certificate), A(p.ak_public), A(p.mode), A(p.agent_url)});
  c.commit();
}

std::optional<std::string> PgStore::setting(const std::string& key) {
  Conn c(*this);
  Res r = c.exec("SELECT value FROM meta WHERE key=$1", {A("setting." + key)});
  if (!r.rows()) return std::nullopt;
  return r.text(0, 0);
}

void PgStore::put_setting(const std::string& key, const std::string& value) {
  Conn c(*this);
  c.exec("INSERT INTO meta(key, value) VALUES($1,$2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", {A("setting." + key), A(value)});
}

void PgStore::set_poll_error(const std::string& id, const std::string& err) {
  Conn c(*this);
  c.exec("UPDATE endpoints SET last_error=$1 WHERE id=$2", {A(err), A(id)});
}

void PgStore::add_nonce(const Bytes& nonce, const std::string& endpoint_id, int64_t expires) {
  Conn c(*this);
  c.prepared("INSERT INTO nonces(nonce, endpoint_id, expires) VALUES($1,$2,$3)", {A(nonce), A(endpoint_id), A(expires)});
}

void PgStore::consume_nonce(const Bytes& nonce, const std::string& endpoint_id, int64_t now) {
  Conn c(*this);
  // One statement: of two instances given the same quote, exactly one marks the nonce used.
  if (c.prepared("UPDATE nonces SET used=1 WHERE nonce=$1 AND used=0 AND endpoint_id=$2 AND expires >= $3", {A(nonce), A(endpoint_id), A(now)}).affected() == 1)
    return;
  Res r = c.exec("SELECT endpoint_id, expires, used FROM nonces WHERE nonce=$1", {A(nonce)});
  if (!r.rows()) throw AttestError("nonce_unknown", "extraData " + to_hex(nonce) + " is not a nonce this verifier issued (or it was purged)", 409);
  if (r.i64(0, 2)) throw AttestError("nonce_reused", "nonce " + to_hex(nonce) + " was already used: replayed quote", 409);
  if (r.text(0, 0) != endpoint_id) throw AttestError("nonce_wrong_endpoint", "nonce " + to_hex(nonce) + " was issued for another endpoint", 409);
  throw AttestError("nonce_expired", "nonce " + to_hex(nonce) + " expired " + std::to_string(now - r.i64(0, 1)) + " s ago: stale quote", 410);
}

int PgStore::purge_nonces(int64_t expired_before) {
  Conn c(*this);
  return static_cast<int>(c.exec("DELETE FROM nonces WHERE expires < $1", {A(expired_before)}).affected());
}

// PostgreSQL has no PRAGMA integrity_check: every table of the schema answers a full scan, and the
// verdicts' unique nonce index agrees with the table ("ok" or what failed).
std::string PgStore::integrity_check() {
  Conn c(*this);
  for (const char* t : {"meta", "endpoints", "pending_enrolments", "nonces", "verdicts", "instances", "leases", "reference_sets", "revoked_tokens"}) c.exec(std::string("SELECT count(*) FROM ") + t);
  Res d = c.exec("SELECT count(*) FROM (SELECT nonce FROM verdicts WHERE nonce IS NOT NULL GROUP BY nonce HAVING count(*) > 1) x");
  if (d.i64(0, 0) != 0) return std::to_string(d.i64(0, 0)) + " nonces with more than one verdict";
  return "ok";
}

LeaseRound PgStore::lease_round(const std::string& me, int64_t now, int64_t ttl) {
  Conn c(*this);
  c.begin();
  c.exec("SELECT pg_advisory_xact_lock($1)", {A(kLeaseLock)});  // one instance's round at a time
  LeaseRound r;
  c.exec("INSERT INTO instances(id, expires_ms) VALUES($1, $2) ON CONFLICT(id) DO UPDATE SET expires_ms = excluded.expires_ms", {A(me), A(now + ttl)});
  c.exec("DELETE FROM instances WHERE expires_ms < $1", {A(now)});
  c.exec("DELETE FROM leases WHERE endpoint_id NOT IN (SELECT id FROM endpoints)");
  r.live_instances = static_cast<int>(c.exec("SELECT count(*) FROM instances").i64(0, 0));
  const int64_t total = c.exec("SELECT count(*) FROM endpoints").i64(0, 0);
  const int64_t share = (total + r.live_instances - 1) / std::max(1, r.live_instances);
  c.exec("UPDATE leases SET expires_ms = $1 WHERE instance_id = $2", {A(now + ttl), A(me)});
  const int64_t mine = c.exec("SELECT count(*) FROM leases WHERE instance_id = $1", {A(me)}).i64(0, 0);
  if (mine > share) {
    c.exec("DELETE FROM leases WHERE endpoint_id IN (SELECT endpoint_id FROM leases WHERE instance_id = $1 ORDER BY endpoint_id DESC LIMIT $2)",
           {A(me), A(mine - share)});
    r.released = static_cast<int>(mine - share);
  } else if (mine < share) {
    r.taken_over = static_cast<int>(
        c.exec("SELECT count(*) FROM (SELECT 1 FROM leases WHERE expires_ms < $1 AND instance_id <> $2 ORDER BY endpoint_id LIMIT $3) x",
               {A(now), A(me), A(share - mine)})
            .i64(0, 0));
    c.exec(
        "INSERT INTO leases(endpoint_id, instance_id, expires_ms) SELECT e.id, $1, $2 FROM endpoints e LEFT JOIN leases l ON l.endpoint_id = e.id"
        " WHERE l.endpoint_id IS NULL OR l.expires_ms < $3 ORDER BY e.id LIMIT $4"
        " ON CONFLICT(endpoint_id) DO UPDATE SET instance_id = excluded.instance_id, expires_ms = excluded.expires_ms",
        {A(me), A(now + ttl), A(now), A(share - mine)});
  }
  Res o = c.exec("SELECT endpoint_id FROM leases WHERE instance_id = $1 ORDER BY endpoint_id", {A(me)});
  for (int i = 0; i < o.rows(); ++i) r.owned.push_back(o.text(i, 0));
  c.commit();
  return r;
}

void PgStore::release_instance(const std::string& me) {
  Conn c(*this);
  c.begin();
  c.exec("DELETE FROM leases WHERE instance_id = $1", {A(me)});
  c.exec("DELETE FROM instances WHERE id = $1", {A(me)});
  c.commit();
}

std::optional<LeaseInfo> PgStore::lease(const std::string& endpoint_id) {
  Conn c(*this);
  Res r = c.exec("SELECT instance_id, expires_ms FROM leases WHERE endpoint_id = $1", {A(endpoint_id)});
  if (!r.rows()) return std::nullopt;
  return LeaseInfo{r.text(0, 0), r.i64(0, 1)};
}

// ------------------------------------------------------- schema 4 (lifecycle and policy)

namespace {
ReferenceSetRecord read_set(const Res& r, int i) {
  return ReferenceSetRecord{r.i64(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4), r.i64(i, 5), r.text(i, 6), r.i64(i, 7)};
}
}  // namespace

std::vector<EndpointSummary> PgStore::list_endpoints(const EndpointQuery& q) {
  Conn c(*this);
  Res r = c.exec(sql::list_endpoints('$'),
                 {A(q.after_id), A(q.status), A(int64_t{q.group.has_value()}), A(q.group.value_or("")), A(int64_t{q.seen_before.has_value()}),
                  A(q.seen_before.value_or(0)), A(int64_t{q.seen_after.has_value()}), A(q.seen_after.value_or(0)), A(int64_t{q.limit}), A(q.now),
                  A(q.stale_push_s), A(q.stale_pull_s)});
  std::vector<EndpointSummary> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(EndpointSummary{r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4), r.text(i, 5), r.i64(i, 6)});
  return out;
}

bool PgStore::set_endpoint_group(const std::string& id, const std::string& group) {
  Conn c(*this);
  return c.exec("UPDATE endpoints SET group_name=$1 WHERE id=$2", {A(group), A(id)}).affected() > 0;
}

std::vector<std::pair<std::string, std::string>> PgStore::endpoint_groups() {
  Conn c(*this);
  Res r = c.exec("SELECT id, group_name FROM endpoints WHERE group_name <> '' ORDER BY id");
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0), r.text(i, 1));
  return out;
}

int64_t PgStore::add_reference_set(const ReferenceSetRecord& s) {
  Conn c(*this);
  return c.exec("INSERT INTO reference_sets(scope, ref_id, signer, by_whom, created, cose, rollback_of) VALUES($1,$2,$3,$4,$5,$6,$7) RETURNING version",
                {A(s.scope), A(s.ref_id), A(s.signer), A(s.by), A(s.created), A(s.cose_b64), A(s.rollback_of)})
      .i64(0, 0);
}

std::vector<ReferenceSetRecord> PgStore::reference_history(const std::optional<std::string>& scope, int limit) {
  Conn c(*this);
  Res r = c.exec(std::string("SELECT ") + sql::kReferenceSetCols + " FROM reference_sets WHERE ($1 = 0 OR scope = $2) ORDER BY version DESC LIMIT $3",
                 {A(int64_t{scope.has_value()}), A(scope.value_or("")), A(int64_t{limit})});
  std::vector<ReferenceSetRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_set(r, i));
  return out;
}

std::optional<ReferenceSetRecord> PgStore::reference_set(int64_t version) {
  Conn c(*this);
  Res r = c.exec(std::string("SELECT ") + sql::kReferenceSetCols + " FROM reference_sets WHERE version = $1", {A(version)});
  if (!r.rows()) return std::nullopt;
  return read_set(r, 0);
}

std::vector<std::pair<std::string, int64_t>> PgStore::current_reference_versions() {
  Conn c(*this);
  Res r = c.exec("SELECT scope, MAX(version) FROM reference_sets GROUP BY scope ORDER BY scope");
  std::vector<std::pair<std::string, int64_t>> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0), r.i64(i, 1));
  return out;
}


void PgStore::revoke_token(const std::string& jti, int64_t exp) {
  Conn c(*this);
  c.exec("INSERT INTO revoked_tokens(jti, exp) VALUES($1, $2) ON CONFLICT(jti) DO UPDATE SET exp = GREATEST(revoked_tokens.exp, excluded.exp)",
         {A(jti), A(exp)});
}

std::vector<std::string> PgStore::revoked_tokens(int64_t now) {
  Conn c(*this);
  Res r = c.exec("SELECT jti FROM revoked_tokens WHERE exp >= $1 ORDER BY jti", {A(now)});
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
  return out;
}

int PgStore::purge_revoked_tokens(int64_t now) {
  Conn c(*this);
  return static_cast<int>(c.exec("DELETE FROM revoked_tokens WHERE exp < $1", {A(now)}).affected());
}

bool PgStore::mark_stale(const std::string& id, int64_t last_seen) {
  Conn c(*this);
  return c.exec(sql::kMarkStalePg, {A(id), A(last_seen)}).affected() == 1;
}

}  // namespace redoubt::attest
