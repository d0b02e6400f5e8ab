// The SQLite store's WAL (issue 13 throughput and operations). The WAL-batching VFS
// (attestation/service/sqlite_wal_batch.hpp): a commit is one write; another connection (the default
// VFS, as `sqlite3` or a backup would open it) sees every commit at once and a consistent database; a
// rolled-back transaction's spilled frames never land on a later commit's; with its early writes
// switched off (test-only) another connection reads a broken database — so those writes are what the
// consistency rests on. The store's checkpointer: it copies the WAL into the database file while the
// store runs (it did not, before the twelfth round), with batched writes, and under continuous
// writes the WAL is restarted from its beginning (it grew for as long as the service ran).
#define BOOST_TEST_MODULE attest_sqlite_wal
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <mutex>
#include <thread>

#include "attestation/service/sqlite_wal_batch.hpp"
#include "attestation/service/verifier_store.hpp"
#include "tests/support/launch_fixture.hpp"

namespace attest = redoubt::attest;
namespace batch = redoubt::attest::sqlite_wal_batch;
using redoubt::test::TempDir;

namespace {

struct Db {
  sqlite3* db = nullptr;
  // quiet: no Boost.Test logging (a connection of another thread); open failures then show as errors.
  Db(const std::string& path, const char* vfs, bool quiet = false) : quiet(quiet) {
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
    if (!quiet) BOOST_REQUIRE(rc == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
  }
  ~Db() { sqlite3_close(db); }
  int exec(const std::string& sql) {
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK && !quiet) BOOST_TEST_MESSAGE("exec: " << sqlite3_errmsg(db) << " (" << sqlite3_extended_errcode(db) << ") in " << sql.substr(0, 60));
    return rc;
  }
  // One integer (or the error code, negated, with the message kept in `error`).
  int64_t value(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      error = sqlite3_errmsg(db);
      return -1;
    }
    const int rc = sqlite3_step(s);
    const int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -rc;
    if (rc != SQLITE_ROW) error = sqlite3_errmsg(db);
    sqlite3_finalize(s);
    return v;
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return std::string("prepare: ") + sqlite3_errmsg(db);
    const int rc = sqlite3_step(s);
    out = rc == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(s, 0)) : std::string("step: ") + sqlite3_errmsg(db);
    sqlite3_finalize(s);
    return out;
  }
  std::string error;
  bool quiet = false;
};

// A writer on the batching VFS, linked, with a table of rows of about a verdict's size (6 KB).
struct Writer : Db {
  explicit Writer(const std::string& path) : Db(path, batch::vfs_name()) {
    BOOST_REQUIRE(exec("PRAGMA journal_mode=WAL") == SQLITE_OK);
    BOOST_REQUIRE(exec("PRAGMA synchronous=NORMAL") == SQLITE_OK);
    BOOST_REQUIRE(exec("CREATE TABLE IF NOT EXISTS t(seq INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)") == SQLITE_OK);
    BOOST_REQUIRE(batch::link_wal(db));
  }
  int insert(int bytes, int rows = 1) {
    return exec("INSERT INTO t(v) SELECT printf('%.*c', " + std::to_string(bytes) + ", 'x') FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
                std::to_string(rows) + ") SELECT i FROM n)");
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_verifier_store_commits_a_verdict_with_one_write) {
  TempDir d;
  attest::SqliteStore store((d / "v.db").string());
  BOOST_REQUIRE(store.wal_batched());
  const auto before = batch::counters();
  for (int i = 0; i < 20; ++i)
    store.add_verdict(attest::VerdictRecord{0, "", 1000 + i, "contraindicated", "{}", std::string(6000, 'j'), {}}, std::nullopt);
  const auto after = batch::counters();
  BOOST_TEST(after.writes_out - before.writes_out == 20u, "one write per commit");
  BOOST_TEST(after.writes_in - before.writes_in >= 20u * 4, "SQLite wrote at least two frames (four writes) per commit");
  BOOST_TEST(after.late_flushes == before.late_flushes, "every commit recognised by its commit frame");
  BOOST_TEST(store.verdict_count() == 20);
  BOOST_TEST(store.integrity_check() == "ok");
}

// A reader on the default VFS after every commit (and after a 3 MB transaction, written in pieces below the unix VFS's 128 KiB a write).
BOOST_AUTO_TEST_CASE(another_connection_sees_every_commit_at_once) {
  TempDir d;
  const std::string path = (d / "t.db").string();
  Writer w(path);
  Db r(path, nullptr);
  for (int i = 1; i <= 300; ++i) {
    BOOST_REQUIRE(w.insert(6000) == SQLITE_OK);
    const int64_t n = r.value("SELECT count(*) FROM t WHERE length(v) = 6000");
    if (n != i) BOOST_FAIL("after commit " << i << " the reader counts " << n << " (" << r.error << ")");
  }
  BOOST_REQUIRE(w.insert(3000, 1000) == SQLITE_OK);
  BOOST_TEST(r.value("SELECT count(*) FROM t") == 1300);
  BOOST_TEST(r.text("PRAGMA integrity_check") == "ok");
  BOOST_TEST(r.value("PRAGMA wal_checkpoint(PASSIVE)") == 0, "a checkpoint from the other connection");
  BOOST_TEST(r.text("PRAGMA integrity_check") == "ok");
}

// A transaction too big for a 10-page cache spills frames into the WAL before its COMMIT; rolled
// back, another writer reuses those offsets. The spilled frames were written before the write lock
// was released — by SQLite reading them back (here, always), else at the lock's release — never later
// over the other writer's commit.
BOOST_AUTO_TEST_CASE(a_rolled_back_transactions_spilled_frames_never_overwrite_a_later_commit) {
  TempDir d;
  const std::string path = (d / "t.db").string();
  Writer a(path);
  Writer b(path);
  BOOST_REQUIRE(a.exec("PRAGMA cache_size=10") == SQLITE_OK);
  const auto before = batch::counters();
  BOOST_REQUIRE(a.exec("BEGIN IMMEDIATE") == SQLITE_OK);
  BOOST_REQUIRE(a.insert(4000, 200) == SQLITE_OK);
  BOOST_REQUIRE(a.exec("ROLLBACK") == SQLITE_OK);
  BOOST_TEST(batch::counters().writes_out > before.writes_out, "frames spilled before the ROLLBACK");
  BOOST_TEST_MESSAGE("spilled: " << batch::counters().writes_in - before.writes_in << " writes by SQLite, " << batch::counters().writes_out - before.writes_out
                                 << " made, " << batch::counters().late_flushes - before.late_flushes << " at a lock's release");
  for (int i = 0; i < 5; ++i) BOOST_REQUIRE(b.insert(6000) == SQLITE_OK);
  BOOST_REQUIRE(a.insert(100) == SQLITE_OK);  // a's next transaction: its buffer holds nothing of the old one
  Db r(path, nullptr);
  BOOST_TEST(r.value("SELECT count(*) FROM t") == 6);
  BOOST_TEST(r.value("SELECT count(*) FROM t WHERE length(v) = 6000") == 5);
  BOOST_TEST(r.text("PRAGMA integrity_check") == "ok");
}

// The test-only switch: without the early writes, the commit is published while its frames are
// still in the writer's buffer, and another connection finds a database it cannot read.
BOOST_AUTO_TEST_CASE(without_the_early_writes_another_connection_reads_a_broken_database) {
  TempDir d;
  const std::string path = (d / "t.db").string();
  Writer w(path);
  Db r(path, nullptr);
  BOOST_REQUIRE(w.insert(6000) == SQLITE_OK);
  BOOST_REQUIRE(r.value("SELECT count(*) FROM t") == 1);
  batch::set_early_flush_for_test(false);
  int wrong = 0;
  for (int i = 2; i <= 10; ++i) {
    if (w.insert(6000) != SQLITE_OK) break;
    if (r.value("SELECT count(*) FROM t WHERE length(v) = 6000") != i || r.text("PRAGMA quick_check") != "ok") ++wrong;
  }
  batch::set_early_flush_for_test(true);
  BOOST_TEST_MESSAGE("reads that went wrong without the early writes: " << wrong << " of 9; last error: " << r.error);
  BOOST_TEST(wrong > 0);
}

namespace {
// The WAL header's checkpoint sequence number (https://sqlite.org/fileformat2.html §4.1, bytes 12..15,
// big-endian): incremented each time a writer restarts the WAL from its beginning.
uint32_t wal_checkpoint_sequence(const std::string& wal) {
  unsigned char h[16] = {};
  FILE* f = std::fopen(wal.c_str(), "rb");
  if (!f) return 0;
  const size_t n = std::fread(h, 1, sizeof h, f);
  std::fclose(f);
  return n == sizeof h ? (uint32_t{h[12]} << 24 | uint32_t{h[13]} << 16 | uint32_t{h[14]} << 8 | h[15]) : 0;
}
attest::VerdictRecord verdict(int i) { return attest::VerdictRecord{0, "", 1000 + i, "contraindicated", "{}", std::string(6000, 'j'), {}}; }
}  // namespace

BOOST_AUTO_TEST_CASE(the_checkpointer_copies_the_wal_into_the_database_file) {
  TempDir d;
  const std::string path = (d / "v.db").string();
  attest::SqliteStore store(path);
  const auto before = batch::counters();
  for (int i = 0; i < 300; ++i) store.add_verdict(verdict(i), std::nullopt);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto checkpointed = [&] {  // the file holds them and the checkpoint that copied them has returned
    return std::filesystem::file_size(path) >= 300u * 6000 &&
           store.metrics_text().find("redoubt_sqlite_checkpoints_total{result=\"ok\"} 0\n") == std::string::npos;
  };
  while (!checkpointed() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(std::filesystem::file_size(path) >= 300u * 6000, "the database file holds the 300 verdicts (" << std::filesystem::file_size(path) << " bytes)");
  const auto after = batch::counters();
  const uint64_t in = after.checkpoint_writes_in - before.checkpoint_writes_in, out = after.checkpoint_writes_out - before.checkpoint_writes_out;
  BOOST_TEST_MESSAGE("checkpoint page writes " << in << ", writes made " << out << ", WAL reads ahead " << after.wal_reads_ahead - before.wal_reads_ahead);
  BOOST_TEST(in >= 300u, "at least a page per verdict copied");
  BOOST_TEST(out * 8 <= in, "the copy's contiguous pages written together");
  BOOST_TEST(store.integrity_check() == "ok");
  const std::string m = store.metrics_text();
  BOOST_TEST(m.find("redoubt_sqlite_checkpoints_total{result=\"ok\"} 0\n") == std::string::npos, m);
  BOOST_TEST(m.find("redoubt_sqlite_checkpoints_total{result=\"error\"} 0\n") != std::string::npos, m);
  BOOST_TEST(m.find("\nredoubt_sqlite_wal_frames ") != std::string::npos, m);
}

// Writes without a pause of a checkpoint's length, at about what two cores of HTTP appraisals give
// (5,000 verdicts/s; the store alone writes several times faster): past 256 MiB of WAL the
// checkpointer catches up and the next COMMIT starts the WAL again from its beginning. (256 MiB:
// ~16,000 verdicts, ~4 s here.)
BOOST_AUTO_TEST_CASE(under_continuous_writes_the_wal_is_restarted) {
  TempDir d;
  const std::string path = (d / "v.db").string();
  attest::SqliteStore store(path);
  int n = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (wal_checkpoint_sequence(path + "-wal") == 0 && std::chrono::steady_clock::now() < deadline) {
    for (int k = 0; k < 50; ++k) store.add_verdict(verdict(n++), std::nullopt);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_TEST_MESSAGE(n << " verdicts before the WAL restarted; WAL file " << std::filesystem::file_size(path + "-wal") << " bytes\n" << store.metrics_text());
  BOOST_TEST(wal_checkpoint_sequence(path + "-wal") >= 1u, "the WAL was restarted");
  // The limit is 65,536 frames (~16,000 verdicts); past four times it the writers are held whatever
  // is left (~65,000 verdicts): a slow checkpointer (a loaded machine) still restarts it by then.
  BOOST_TEST(n < 70000, "within 70,000 verdicts (the forced restart at 262,144 frames)");
  for (int k = 0; k < 100; ++k) store.add_verdict(verdict(n++), std::nullopt);
  BOOST_TEST(store.verdict_count() == n);
  BOOST_TEST(store.integrity_check() == "ok");
}

// Against SQLite's own VFS as the oracle: a writer on the batching VFS (transfers between accounts,
// rows of 0.1–20 KB, a 20-page cache so some transactions spill, one in ten rolled back), a
// checkpointer on it (passive, every few ms), and a reader on the default VFS that checks, in each
// of its transactions, that money is neither made nor lost and, now and then, the whole file.
BOOST_AUTO_TEST_CASE(a_reader_on_the_default_vfs_always_sees_a_consistent_database) {
  TempDir d;
  const std::string path = (d / "bank.db").string();
  constexpr int kAccounts = 200;
  constexpr int64_t kTotal = int64_t{kAccounts} * 1000;
  {
    Writer setup(path);
    BOOST_REQUIRE(setup.exec("CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER NOT NULL, pad BLOB)") == SQLITE_OK);
    BOOST_REQUIRE(setup.exec("INSERT INTO acct(id, bal, pad) SELECT i, 1000, zeroblob(100) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
                             std::to_string(kAccounts) + ") SELECT i FROM n)") == SQLITE_OK);
  }
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, bad{0}, checks{0};
  std::string first_bad;
  std::mutex bad_mu;
  std::thread reader([&] {
    Db r(path, nullptr, /*quiet=*/true);
    while (!stop) {
      if (r.exec("BEGIN") != SQLITE_OK) continue;
      const int64_t sum = r.value("SELECT sum(bal) FROM acct"), n = r.value("SELECT count(*) FROM acct WHERE length(pad) >= 100");
      std::string qc = "ok";
      if (++reads % 25 == 0) {
        qc = r.text("PRAGMA quick_check");
        ++checks;
      }
      r.exec("COMMIT");
      if (sum != kTotal || n != kAccounts || qc != "ok") {
        std::lock_guard<std::mutex> g(bad_mu);
        if (bad++ == 0) first_bad = "sum " + std::to_string(sum) + " rows " + std::to_string(n) + " quick_check " + qc + " (" + r.error + ")";
      }
    }
  });
  std::atomic<bool> ckpt_linked{false};
  std::thread checkpointer([&] {  // no Boost.Test assertions off the main thread
    Db c(path, batch::vfs_name(), /*quiet=*/true);
    c.value("SELECT count(*) FROM sqlite_master");
    ckpt_linked = batch::link_checkpointer(c.db);
    while (!stop) {
      sqlite3_wal_checkpoint_v2(c.db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  Writer w(path);
  BOOST_REQUIRE(w.exec("PRAGMA cache_size=20") == SQLITE_OK);
  uint32_t rng = 12345;
  auto next = [&rng](uint32_t n) {
    rng = rng * 1103515245u + 12345u;
    return (rng >> 8) % n;
  };
  int committed = 0, rolled_back = 0;
  for (int t = 0; t < 1500; ++t) {
    BOOST_REQUIRE(w.exec("BEGIN IMMEDIATE") == SQLITE_OK);
    for (int k = 0, moves = 1 + static_cast<int>(next(6)); k < moves; ++k) {
      const uint32_t a = 1 + next(kAccounts), b = 1 + next(kAccounts), amount = next(50);
      const std::string pad = std::to_string(100 + next(20000));
      BOOST_REQUIRE(w.exec("UPDATE acct SET bal = bal - " + std::to_string(amount) + ", pad = zeroblob(" + pad + ") WHERE id = " + std::to_string(a)) == SQLITE_OK);
      BOOST_REQUIRE(w.exec("UPDATE acct SET bal = bal + " + std::to_string(amount) + " WHERE id = " + std::to_string(b)) == SQLITE_OK);
    }
    if (next(10) == 0) {
      BOOST_REQUIRE(w.exec("ROLLBACK") == SQLITE_OK);
      ++rolled_back;
    } else {
      BOOST_REQUIRE(w.exec("COMMIT") == SQLITE_OK);
      ++committed;
    }
  }
  stop = true;
  reader.join();
  checkpointer.join();
  BOOST_TEST_MESSAGE(committed << " committed, " << rolled_back << " rolled back; the reader read " << reads << " times, " << checks << " whole-file checks");
  BOOST_TEST(ckpt_linked.load(), "the checkpointer's files are the batching VFS's");
  BOOST_TEST(bad == 0, "first inconsistent read: " << first_bad);
  BOOST_TEST(reads > 100);
  Db fresh(path, nullptr);
  BOOST_TEST(fresh.value("SELECT sum(bal) FROM acct") == kTotal);
  BOOST_TEST(fresh.text("PRAGMA integrity_check") == "ok");
}
