#include "attestation/service/verifier_store.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <utility>

#include "attestation/common/attest_error.hpp"
#include "attestation/service/sqlite_stmt.hpp"
#include "attestation/service/sqlite_wal_batch.hpp"
#include "attestation/service/verifier_store_sql.hpp"

namespace redoubt::attest {
namespace {

using sqlite_detail::Stmt;
using sqlite_detail::Tx;

EndpointRecord read_endpoint(const Stmt& s) {
  EndpointRecord e;
  e.id = s.text(0);
  e.ek_public = s.blob(1);
  e.ek_certificate = s.blob(2);
  e.ak_public = s.blob(3);
  e.mode = s.text(4);
  e.agent_url = s.text(5);
  e.enrolled = s.i64(6) != 0;
  e.challenge_hash = s.blob(7);
  e.challenge_expires = s.i64(8);
  if (!s.is_null(9)) e.clock = ClockState{static_cast<uint64_t>(s.i64(9)), static_cast<uint32_t>(s.i64(10)), static_cast<uint32_t>(s.i64(11)), s.i64(12) != 0};
  e.status = s.text(13);
  e.last_error = s.text(14);
  e.last_seen = s.i64(15);
  return e;
}

constexpr const char* kEndpointCols =
    "id, ek_public, ek_certificate, ak_public, mode, agent_url, enrolled, challenge_hash, challenge_expires, "
    "clock, reset_count, restart_count, safe, status, last_error, last_seen";

}  // namespace

SqliteStore::SqliteStore(const std::string& path) {
  // The WAL-batching VFS (sqlite_wal_batch.hpp): one write per commit instead of two per frame.
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, sqlite_wal_batch::vfs_name()) != SQLITE_OK) {
    std::string m = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw AttestError("db", "cannot open " + path + ": " + m, 500);
  }
  // Issue 16 item 11: every failure below closed nothing (the destructor does not run when the
  // constructor throws) and leaked the connection; and a random file said only "file is not a database".
  try {
    sqlite3_busy_timeout(db_, 5000);
    if (sqlite3_exec(db_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) == SQLITE_NOTADB)
      throw AttestError("db", path + " is not an SQLite database (" + sqlite3_errmsg(db_) + ")", 500);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");  // WAL + NORMAL: a committed transaction survives a process crash (SIGKILL)
    exec("PRAGMA foreign_keys=ON");
    migrate();
    wal_batched_ = sqlite_wal_batch::link_wal(db_);  // after migrate(): its transactions opened the WAL
    start_checkpointer(path);
  } catch (const std::exception& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    const auto* ae = dynamic_cast<const AttestError*>(&e);
    const std::string why = ae ? ae->reason() : e.what();
    throw AttestError("db", why.find(path) != std::string::npos ? why : path + ": " + why, 500);
  }
}

// Issue 13 (p99): an automatic checkpoint runs inside the COMMIT that crosses 1000 WAL pages, fsyncs
// the WAL and the database and so held the store's mutex (every request) for tens to hundreds of ms.
// Instead, a thread of the store checkpoints on a connection of its own every 200 ms (PASSIVE: it never
// blocks a writer; SQLite WAL §6). With synchronous=NORMAL the WAL is synced at checkpoints either way,
// so what a power cut can lose is unchanged (docs/operations.md "Throughput").
//
// Twelfth round: until then the thread checkpointed nothing — a connection that has not read the
// database does not know it is in WAL mode, and sqlite3_wal_checkpoint_v2 then returns SQLITE_OK with
// a log of -1 (so the WAL grew for as long as the service ran, 66 MB in a 10 s benchmark). It now
// reads the schema first. And a WAL is only rewritten from its start by a writer that begins when
// every frame has been copied back (wal.c walRestartLog); under continuous writes (one every few ms)
// a checkpoint, which syncs twice, never catches up. Past kWalRestartFrames the thread catches up
// with passive checkpoints, syncs the database file, and then copies the last frames holding the
// store's mutex, so that the next COMMIT restarts the WAL: one stall of 2–12 ms here per 256 MiB of
// WAL (at 4,700 verdicts/s, ~84 MB/s of WAL, every ~3 s; with 64 MiB and no sync beforehand the
// 32-client p99 went from 14–16 to 18–22 ms). Below ~200 verdicts/s a checkpoint usually finds a
// pause and the WAL restarts by itself.
constexpr int kWalRestartFrames = 65536;  // 256 MiB of 4 KiB pages
constexpr int kWalStallFrames = 256;      // at most this many frames copied while writers wait (then ~2 fsyncs)

bool SqliteStore::checkpoint_round() {
  int frames = 0, copied = 0;
  auto pass = [&] {  // one passive checkpoint, counted
    const int rc = sqlite3_wal_checkpoint_v2(ckpt_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
    (rc == SQLITE_OK ? ckpt_ok_ : rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? ckpt_busy_ : ckpt_error_).fetch_add(1, std::memory_order_relaxed);
    if (rc == SQLITE_OK) wal_frames_.store(frames, std::memory_order_relaxed);
    return rc == SQLITE_OK;
  };
  if (!pass() || frames < kWalRestartFrames) return false;
  // Catch up: each pass copies what the writers added during the one before.
  int added = frames;
  for (int round = 0; round < 8 && added > kWalStallFrames && frames < 4 * kWalRestartFrames; ++round) {
    const int before = frames;
    if (!pass()) return false;
    added = frames - before;
  }
  // A reader (a backup, say) still uses older frames: a stall would not restart the WAL; again later.
  if (copied < frames) return false;
  // Writers faster than the copy: go on copying, and stall them only past four times the limit.
  if (added > kWalStallFrames && frames < 4 * kWalRestartFrames) return true;
  // SQLite syncs the database file only after a checkpoint that copied every frame (wal.c
  // walCheckpoint), so everything copied since the last such one is still in the page cache; that
  // sync would fall in the stall (94-112 ms measured with a 256 MiB WAL). Synced first, writers free.
  sqlite3_file* db_file = nullptr;
  if (sqlite3_file_control(ckpt_db_, "main", SQLITE_FCNTL_FILE_POINTER, &db_file) == SQLITE_OK && db_file && db_file->pMethods)
    db_file->pMethods->xSync(db_file, SQLITE_SYNC_NORMAL);
  if (!pass()) return false;  // what the writers added during that sync
  const auto t0 = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> l(mu_);  // no COMMIT until every frame is in the database file
  pass();
  wal_stalls_.fetch_add(1, std::memory_order_relaxed);
  wal_stall_us_.fetch_add(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count()),
                          std::memory_order_relaxed);
  return false;
}

std::string SqliteStore::metrics_text() {
  std::string o;
  o += "# HELP redoubt_sqlite_checkpoints_total Passive checkpoints of the SQLite WAL by the store's checkpointer, by outcome.\n"
       "# TYPE redoubt_sqlite_checkpoints_total counter\n";
  o += "redoubt_sqlite_checkpoints_total{result=\"ok\"} " + std::to_string(ckpt_ok_.load()) + "\n";
  o += "redoubt_sqlite_checkpoints_total{result=\"busy\"} " + std::to_string(ckpt_busy_.load()) + "\n";
  o += "redoubt_sqlite_checkpoints_total{result=\"error\"} " + std::to_string(ckpt_error_.load()) + "\n";
  o += "# HELP redoubt_sqlite_wal_frames Frames in the SQLite WAL at the last checkpoint (it is restarted past 65536).\n"
       "# TYPE redoubt_sqlite_wal_frames gauge\n";
  o += "redoubt_sqlite_wal_frames " + std::to_string(wal_frames_.load()) + "\n";
  o += "# HELP redoubt_sqlite_wal_stalls_total Times the checkpointer held the writers to restart the WAL.\n"
       "# TYPE redoubt_sqlite_wal_stalls_total counter\n";
  o += "redoubt_sqlite_wal_stalls_total " + std::to_string(wal_stalls_.load()) + "\n";
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.6f", static_cast<double>(wal_stall_us_.load()) / 1e6);
  o += "# HELP redoubt_sqlite_wal_stall_seconds_total Time the writers were held for those restarts.\n"
       "# TYPE redoubt_sqlite_wal_stall_seconds_total counter\n";
  o += "redoubt_sqlite_wal_stall_seconds_total " + std::string(secs) + "\n";
  return o;
}

void SqliteStore::start_checkpointer(const std::string& path) {
  {
    Stmt s(db_, "PRAGMA journal_mode");
    if (!s.step() || s.text(0) != "wal") return;  // an in-memory database: no WAL to checkpoint
  }
  // Without a connection of its own that has read the database (a read opens its WAL: until then it
  // does not know the database is in WAL mode, and its checkpoints do nothing — see above), the
  // automatic checkpoints stay on.
  auto give_up = [this] {
    sqlite3_close(ckpt_db_);
    ckpt_db_ = nullptr;
  };
  if (sqlite3_open_v2(path.c_str(), &ckpt_db_, SQLITE_OPEN_READWRITE, sqlite_wal_batch::vfs_name()) != SQLITE_OK) return give_up();
  sqlite3_busy_timeout(ckpt_db_, 1000);
  if (sqlite3_exec(ckpt_db_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) != SQLITE_OK) return give_up();
  sqlite_wal_batch::link_checkpointer(ckpt_db_);  // a checkpoint's page writes batched, its WAL reads ahead
  if (sqlite3_exec(db_, "PRAGMA wal_autocheckpoint=0", nullptr, nullptr, nullptr) != SQLITE_OK) return give_up();
  // The thread takes no process signals (it starts with all blocked): `verifier serve` blocks SIGTERM/SIGINT
  // only after opening the store and takes them with sigwait; delivered here they would kill the process.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  ckpt_thread_ = std::thread([this] {
    std::unique_lock<std::mutex> l(ckpt_mu_);
    bool again = false;  // the WAL is past its limit and not caught up: no pause
    while (!ckpt_stop_) {
      if (!again) ckpt_cv_.wait_for(l, std::chrono::milliseconds(200));
      if (ckpt_stop_) break;
      l.unlock();
      again = checkpoint_round();
      l.lock();
    }
  });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

SqliteStore::~SqliteStore() {
  if (ckpt_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> l(ckpt_mu_);
      ckpt_stop_ = true;
    }
    ckpt_cv_.notify_all();
    ckpt_thread_.join();
  }
  sqlite3_close(ckpt_db_);
  for (auto& [sql, st] : stmts_) sqlite3_finalize(st);
  sqlite3_close(db_);
}

void SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    throw AttestError("db", m + " in: " + std::string(sql).substr(0, 80), 500);
  }
}

void SqliteStore::migrate() {
  std::lock_guard<std::mutex> l(mu_);
  Tx tx(db_);
  exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  int version = 0;
  {
    Stmt s(db_, "SELECT value FROM meta WHERE key='schema_version'");
    if (s.step()) version = std::stoi(s.text(0));
  }
  if (version > kStoreSchemaVersion)
    throw AttestError("db", "database schema version " + std::to_string(version) + " is newer than this verifier's (" +
                                std::to_string(kStoreSchemaVersion) + ")", 500);
  if (version < 1) {
    exec(
        "CREATE TABLE endpoints(id TEXT PRIMARY KEY, ek_public BLOB NOT NULL, ek_certificate BLOB NOT NULL, ak_public BLOB NOT NULL,"
        " mode TEXT NOT NULL, agent_url TEXT NOT NULL DEFAULT '', enrolled INTEGER NOT NULL DEFAULT 0, challenge_hash BLOB,"
        " challenge_expires INTEGER NOT NULL DEFAULT 0, clock INTEGER, reset_count INTEGER, restart_count INTEGER, safe INTEGER,"
        " status TEXT NOT NULL DEFAULT 'none', last_error TEXT NOT NULL DEFAULT '')");
    exec("CREATE TABLE nonces(nonce BLOB PRIMARY KEY, endpoint_id TEXT NOT NULL, expires INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0)");
    exec(
        "CREATE TABLE verdicts(seq INTEGER PRIMARY KEY AUTOINCREMENT, endpoint_id TEXT NOT NULL, iat INTEGER NOT NULL,"
        " status TEXT NOT NULL, summary TEXT NOT NULL, ear_jws TEXT NOT NULL)");
    exec("CREATE INDEX verdicts_by_endpoint ON verdicts(endpoint_id, seq)");
    exec("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '1')");
  }
  if (version < 2) {  // issue 13: last_seen (fail closed: stale), pending enrolments apart from enrolled ones
    exec("ALTER TABLE endpoints ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0");
    exec("UPDATE endpoints SET last_seen = COALESCE((SELECT MAX(iat) FROM verdicts WHERE endpoint_id = endpoints.id), 0)");
    exec(
        "CREATE TABLE pending_enrolments(id TEXT PRIMARY KEY, ek_public BLOB NOT NULL, ek_certificate BLOB NOT NULL, ak_public BLOB NOT NULL,"
        " mode TEXT NOT NULL, agent_url TEXT NOT NULL, challenge_hash BLOB NOT NULL, challenge_expires INTEGER NOT NULL)");
    exec(
        "INSERT INTO pending_enrolments SELECT id, ek_public, ek_certificate, ak_public, mode, agent_url, challenge_hash, challenge_expires"
        " FROM endpoints WHERE enrolled = 0 AND challenge_hash IS NOT NULL");
    exec("DELETE FROM endpoints WHERE enrolled = 0");
    exec("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '2')");
  }
  if (version < 3) {  // issue 13: several instances on one database (leases), a verdict at most once per nonce
    exec("CREATE TABLE instances(id TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL)");
    exec("CREATE TABLE leases(endpoint_id TEXT PRIMARY KEY, instance_id TEXT NOT NULL, expires_ms INTEGER NOT NULL)");
    exec("ALTER TABLE verdicts ADD COLUMN nonce BLOB");
    exec("CREATE UNIQUE INDEX verdicts_by_nonce ON verdicts(nonce)");  // NULLs (one-shot verdicts) are distinct
    exec("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '3')");
  }
  if (version < 4) {  // issue 13: reference-value history and groups, token revocation, stale marks (verifier_store_lifecycle.cpp)
    exec(
        "CREATE TABLE reference_sets(version INTEGER PRIMARY KEY AUTOINCREMENT, scope TEXT NOT NULL, ref_id TEXT NOT NULL, signer TEXT NOT NULL,"
        " by_whom TEXT NOT NULL, created INTEGER NOT NULL, cose TEXT NOT NULL, rollback_of INTEGER NOT NULL DEFAULT 0)");
    exec("CREATE INDEX reference_sets_by_scope ON reference_sets(scope, version)");
    exec("ALTER TABLE endpoints ADD COLUMN group_name TEXT NOT NULL DEFAULT ''");
    exec("ALTER TABLE endpoints ADD COLUMN stale_marked INTEGER NOT NULL DEFAULT -1");
    exec("CREATE TABLE revoked_tokens(jti TEXT PRIMARY KEY, exp INTEGER NOT NULL)");
    exec("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '4')");
  }
  if (version < 5) {  // issue 13: PostgreSQL stores a verdict's EAR in parts (PgStore::migrate); SQLite keeps it whole
    exec("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '5')");
  }
  if (version < 6) {  // issue 13: the verdicts' indexes skip one-shot verdicts (verifier_store_sql.hpp)
    for (const char* stmt : sql::kVerdictIndexes) exec(stmt);
    exec("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '6')");
  }
  tx.commit();
}

int SqliteStore::schema_version() {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, "SELECT value FROM meta WHERE key='schema_version'");
  return s.step() ? std::stoi(s.text(0)) : 0;
}

std::optional<EndpointRecord> SqliteStore::endpoint(const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, std::string("SELECT ") + kEndpointCols + " FROM endpoints WHERE id=?", stmts_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_endpoint(s);
}

std::vector<EndpointRecord> SqliteStore::endpoints(const std::string& mode) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, (std::string("SELECT ") + kEndpointCols + " FROM endpoints WHERE (?1 = '' OR mode = ?1) ORDER BY id").c_str());
  s.bind(1, mode);
  std::vector<EndpointRecord> out;
  while (s.step()) out.push_back(read_endpoint(s));
  return out;
}

void SqliteStore::put_endpoint(const EndpointRecord& e) {
  std::lock_guard<std::mutex> l(mu_);
  Tx tx(db_);
  Stmt s(db_, (std::string("INSERT OR REPLACE INTO endpoints(") + kEndpointCols + ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)").c_str());
  s.bind(1, e.id).bind(2, e.ek_public).bind(3, e.ek_certificate).bind(4, e.ak_public).bind(5, e.mode).bind(6, e.agent_url);
  s.bind(7, int64_t{e.enrolled}).bind(8, e.challenge_hash).bind(9, e.challenge_expires);
  if (e.clock) {
    s.bind(10, static_cast<int64_t>(e.clock->clock)).bind(11, int64_t{e.clock->reset_count}).bind(12, int64_t{e.clock->restart_count}).bind(13, int64_t{e.clock->safe});
  } else {
    s.bind_null(10).bind_null(11).bind_null(12).bind_null(13);
  }
  s.bind(14, e.status).bind(15, e.last_error).bind(16, e.last_seen);
  s.step();
  tx.commit();
}

bool SqliteStore::delete_endpoint(const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  Tx tx(db_);
  Stmt d(db_, "DELETE FROM endpoints WHERE id=?");
  d.bind(1, id);
  d.step();
  const int n = sqlite3_changes(db_);
  Stmt p(db_, "DELETE FROM pending_enrolments WHERE id=?");
  p.bind(1, id);
  p.step();
  const int m = sqlite3_changes(db_);
  Stmt q(db_, "DELETE FROM nonces WHERE endpoint_id=?");
  q.bind(1, id);
  q.step();
  Stmt ls(db_, "DELETE FROM leases WHERE endpoint_id=?");
  ls.bind(1, id);
  ls.step();
  tx.commit();
  return n + m > 0;
}

namespace {
constexpr const char* kPendingCols = "id, ek_public, ek_certificate, ak_public, mode, agent_url, challenge_hash, challenge_expires";
}

std::optional<PendingEnrolment> SqliteStore::pending(const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, std::string("SELECT ") + kPendingCols + " FROM pending_enrolments WHERE id=?", stmts_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return PendingEnrolment{s.text(0), s.blob(1), s.blob(2), s.blob(3), s.text(4), s.text(5), s.blob(6), s.i64(7)};
}

void SqliteStore::put_pending(const PendingEnrolment& p) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, (std::string("INSERT OR REPLACE INTO pending_enrolments(") + kPendingCols + ") VALUES(?,?,?,?,?,?,?,?)").c_str());
  s.bind(1, p.id).bind(2, p.ek_public).bind(3, p.ek_certificate).bind(4, p.ak_public).bind(5, p.mode).bind(6, p.agent_url);
  s.bind(7, p.challenge_hash).bind(8, p.challenge_expires);
  s.step();
}

void SqliteStore::drop_pending(const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, "DELETE FROM pending_enrolments WHERE id=?");
  s.bind(1, id);
  s.step();
}

void SqliteStore::complete_enrolment(const PendingEnrolment& p) {
  std::lock_guard<std::mutex> l(mu_);
  Tx tx(db_);
  {  // exactly once: this very pending enrolment is consumed first
    Stmt d(db_, "DELETE FROM pending_enrolments WHERE id=? AND ak_public=? AND challenge_hash=?");
    d.bind(1, p.id).bind(2, p.ak_public).bind(3, p.challenge_hash);
    d.step();
    if (sqlite3_changes(db_) == 0)
      throw AttestError("no_challenge", "endpoint " + p.id + " has no such pending enrolment any more (activated or replaced meanwhile)", 409);
  }
  Stmt u(db_,
         "UPDATE endpoints SET clock = CASE WHEN ak_public = ?4 THEN clock END, reset_count = CASE WHEN ak_public = ?4 THEN reset_count END,"
         " restart_count = CASE WHEN ak_public = ?4 THEN restart_count END, safe = CASE WHEN ak_public = ?4 THEN safe END,"
         " ek_public = ?2, ek_certificate = ?3, ak_public = ?4, mode = ?5, agent_url = ?6, enrolled = 1, last_error = '' WHERE id = ?1");
  u.bind(1, p.id).bind(2, p.ek_public).bind(3, p.ek_certificate).bind(4, p.ak_public).bind(5, p.mode).bind(6, p.agent_url);
  u.step();
  if (sqlite3_changes(db_) == 0) {
    Stmt i(db_, "INSERT INTO endpoints(id, ek_public, ek_certificate, ak_public, mode, agent_url, enrolled) VALUES(?,?,?,?,?,?,1)");
    i.bind(1, p.id).bind(2, p.ek_public).bind(3, p.ek_certificate).bind(4, p.ak_public).bind(5, p.mode).bind(6, p.agent_url);
    i.step();
  }
  tx.commit();
}

std::optional<std::string> SqliteStore::setting(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, "SELECT value FROM meta WHERE key=?");
  s.bind(1, "setting." + key);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

void SqliteStore::put_setting(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)");
  s.bind(1, "setting." + key).bind(2, value);
  s.step();
}

void SqliteStore::set_poll_error(const std::string& id, const std::string& err) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, "UPDATE endpoints SET last_error=? WHERE id=?");
  s.bind(1, err).bind(2, id);
  s.step();
}

void SqliteStore::add_nonce(const Bytes& nonce, const std::string& endpoint_id, int64_t expires) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, "INSERT INTO nonces(nonce, endpoint_id, expires) VALUES(?,?,?)", stmts_);
  s.bind(1, nonce).bind(2, endpoint_id).bind(3, expires);
  s.step();
}

void SqliteStore::consume_nonce(const Bytes& nonce, const std::string& endpoint_id, int64_t now) {
  std::lock_guard<std::mutex> l(mu_);
  Tx tx(db_, &stmts_);
  Stmt s(db_, "SELECT endpoint_id, expires, used FROM nonces WHERE nonce=?", stmts_);
  s.bind(1, nonce);
  if (!s.step()) throw AttestError("nonce_unknown", "extraData " + to_hex(nonce) + " is not a nonce this verifier issued (or it was purged)", 409);
  if (s.i64(2)) throw AttestError("nonce_reused", "nonce " + to_hex(nonce) + " was already used: replayed quote", 409);
  if (s.text(0) != endpoint_id) throw AttestError("nonce_wrong_endpoint", "nonce " + to_hex(nonce) + " was issued for another endpoint", 409);
  if (s.i64(1) < now) throw AttestError("nonce_expired", "nonce " + to_hex(nonce) + " expired " + std::to_string(now - s.i64(1)) + " s ago: stale quote", 410);
  Stmt u(db_, "UPDATE nonces SET used=1 WHERE nonce=?", stmts_);
  u.bind(1, nonce);
  u.step();
  tx.commit();
}

int SqliteStore::purge_nonces(int64_t expired_before) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, "DELETE FROM nonces WHERE expires < ?");
  s.bind(1, expired_before);
  s.step();
  return sqlite3_changes(db_);
}

std::string SqliteStore::integrity_check() {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, "PRAGMA integrity_check");
  std::string out;
  while (s.step()) out += (out.empty() ? "" : "; ") + s.text(0);
  return out;
}

LeaseRound SqliteStore::lease_round(const std::string& me, int64_t now, int64_t ttl) {
  std::lock_guard<std::mutex> l(mu_);
  Tx tx(db_);  // BEGIN IMMEDIATE: one writer at a time, so rounds of several processes are serialised
  auto run = [&](const char* sql, auto&&... binds) {
    Stmt s(db_, sql);
    int i = 0;
    (s.bind(++i, binds), ...);
    s.step();
    return s;
  };
  auto count = [&](const char* sql, auto&&... binds) {
    Stmt s(db_, sql);
    int i = 0;
    (s.bind(++i, binds), ...);
    s.step();
    return s.i64(0);
  };
  LeaseRound r;
  run("INSERT INTO instances(id, expires_ms) VALUES(?1, ?2) ON CONFLICT(id) DO UPDATE SET expires_ms = excluded.expires_ms", me, now + ttl);
  run("DELETE FROM instances WHERE expires_ms < ?", now);
  run("DELETE FROM leases WHERE endpoint_id NOT IN (SELECT id FROM endpoints)");
  r.live_instances = static_cast<int>(count("SELECT count(*) FROM instances"));
  const int64_t total = count("SELECT count(*) FROM endpoints");
  const int64_t share = (total + r.live_instances - 1) / std::max(1, r.live_instances);
  run("UPDATE leases SET expires_ms = ?1 WHERE instance_id = ?2", now + ttl, me);
  const int64_t mine = count("SELECT count(*) FROM leases WHERE instance_id = ?", me);
  if (mine > share) {
    run("DELETE FROM leases WHERE endpoint_id IN (SELECT endpoint_id FROM leases WHERE instance_id = ?1 ORDER BY endpoint_id DESC LIMIT ?2)", me, mine - share);
    r.released = static_cast<int>(mine - share);
  } else if (mine < share) {
    r.taken_over = static_cast<int>(count(
        "SELECT count(*) FROM (SELECT 1 FROM leases WHERE expires_ms < ?1 AND instance_id <> ?2 ORDER BY endpoint_id LIMIT ?3)", now, me, share - mine));
    run("INSERT INTO leases(endpoint_id, instance_id, expires_ms) SELECT e.id, ?1, ?2 FROM endpoints e LEFT JOIN leases l ON l.endpoint_id = e.id"
        " WHERE l.endpoint_id IS NULL OR l.expires_ms < ?3 ORDER BY e.id LIMIT ?4"
        " ON CONFLICT(endpoint_id) DO UPDATE SET instance_id = excluded.instance_id, expires_ms = excluded.expires_ms",
        me, now + ttl, now, share - mine);
  }
  Stmt o(db_, "SELECT endpoint_id FROM leases WHERE instance_id = ? ORDER BY endpoint_id");
  o.bind(1, me);
  while (o.step()) r.owned.push_back(o.text(0));
  tx.commit();
  return r;
}

void SqliteStore::release_instance(const std::string& me) {
  std::lock_guard<std::mutex> l(mu_);
  Tx tx(db_);
  Stmt a(db_, "DELETE FROM leases WHERE instance_id = ?");
  a.bind(1, me);
  a.step();
  Stmt b(db_, "DELETE FROM instances WHERE id = ?");
  b.bind(1, me);
  b.step();
  tx.commit();
}

std::optional<LeaseInfo> SqliteStore::lease(const std::string& endpoint_id) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, "SELECT instance_id, expires_ms FROM leases WHERE endpoint_id = ?");
  s.bind(1, endpoint_id);
  if (!s.step()) return std::nullopt;
  return LeaseInfo{s.text(0), s.i64(1)};
}

}  // namespace redoubt::attest
