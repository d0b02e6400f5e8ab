// SqliteStore, schema 4 (issue 13 "Lifecycle and policy"): endpoint listing
// with filters and paging, groups, the reference-value version history,
// verdicts by nonce (idempotent retried pushes), revoked token ids, and the
// once-per-silence stale mark. The PostgreSQL twins are in verifier_store_pg.cpp.
#include "attestation/common/attest_error.hpp"
#include "attestation/service/sqlite_stmt.hpp"
#include "attestation/service/verifier_store.hpp"
#include "attestation/service/verifier_store_sql.hpp"

namespace redoubt::attest {
namespace {

using sqlite_detail::Stmt;

ReferenceSetRecord read_set(const Stmt& q) {
  return ReferenceSetRecord{q.i64(0), q.text(1), q.text(2), q.text(3), q.text(4), q.i64(5), q.text(6), q.i64(7)};
}

}  // namespace

std::vector<EndpointSummary> SqliteStore::list_endpoints(const EndpointQuery& qr) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, sql::list_endpoints('?'));
  q.bind(1, qr.after_id).bind(2, qr.status).bind(3, int64_t{qr.group.has_value()}).bind(4, qr.group.value_or(""));
  q.bind(5, int64_t{qr.seen_before.has_value()}).bind(6, qr.seen_before.value_or(0));
  q.bind(7, int64_t{qr.seen_after.has_value()}).bind(8, qr.seen_after.value_or(0));
  q.bind(9, int64_t{qr.limit}).bind(10, qr.now).bind(11, qr.stale_push_s).bind(12, qr.stale_pull_s);
  std::vector<EndpointSummary> out;
  while (q.step()) out.push_back(EndpointSummary{q.text(0), q.text(1), q.text(2), q.text(3), q.text(4), q.text(5), q.i64(6)});
  return out;
}

bool SqliteStore::set_endpoint_group(const std::string& id, const std::string& group) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, "UPDATE endpoints SET group_name=? WHERE id=?");
  q.bind(1, group).bind(2, id);
  q.step();
  return sqlite3_changes(db_) > 0;
}

std::vector<std::pair<std::string, std::string>> SqliteStore::endpoint_groups() {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, "SELECT id, group_name FROM endpoints WHERE group_name <> '' ORDER BY id");
  std::vector<std::pair<std::string, std::string>> out;
  while (q.step()) out.emplace_back(q.text(0), q.text(1));
  return out;
}

int64_t SqliteStore::add_reference_set(const ReferenceSetRecord& r) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, "INSERT INTO reference_sets(scope, ref_id, signer, by_whom, created, cose, rollback_of) VALUES(?,?,?,?,?,?,?)");
  q.bind(1, r.scope).bind(2, r.ref_id).bind(3, r.signer).bind(4, r.by).bind(5, r.created).bind(6, r.cose_b64).bind(7, r.rollback_of);
  q.step();
  return sqlite3_last_insert_rowid(db_);
}

std::vector<ReferenceSetRecord> SqliteStore::reference_history(const std::optional<std::string>& scope, int limit) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, std::string("SELECT ") + sql::kReferenceSetCols + " FROM reference_sets WHERE (?1 = 0 OR scope = ?2) ORDER BY version DESC LIMIT ?3");
  q.bind(1, int64_t{scope.has_value()}).bind(2, scope.value_or("")).bind(3, int64_t{limit});
  std::vector<ReferenceSetRecord> out;
  while (q.step()) out.push_back(read_set(q));
  return out;
}

std::optional<ReferenceSetRecord> SqliteStore::reference_set(int64_t version) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, std::string("SELECT ") + sql::kReferenceSetCols + " FROM reference_sets WHERE version = ?");
  q.bind(1, version);
  if (!q.step()) return std::nullopt;
  return read_set(q);
}

std::vector<std::pair<std::string, int64_t>> SqliteStore::current_reference_versions() {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, "SELECT scope, MAX(version) FROM reference_sets GROUP BY scope ORDER BY scope");
  std::vector<std::pair<std::string, int64_t>> out;
  while (q.step()) out.emplace_back(q.text(0), q.i64(1));
  return out;
}

std::optional<VerdictRecord> SqliteStore::verdict_by_nonce(const Bytes& nonce) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, "SELECT seq, endpoint_id, iat, status, summary, ear_jws FROM verdicts WHERE nonce = ?");
  q.bind(1, nonce);
  if (!q.step()) return std::nullopt;
  return VerdictRecord{q.i64(0), q.text(1), q.i64(2), q.text(3), q.text(4), q.text(5), nonce};
}

void SqliteStore::revoke_token(const std::string& jti, int64_t exp) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, "INSERT INTO revoked_tokens(jti, exp) VALUES(?1, ?2) ON CONFLICT(jti) DO UPDATE SET exp = MAX(exp, excluded.exp)");
  q.bind(1, jti).bind(2, exp);
  q.step();
}

std::vector<std::string> SqliteStore::revoked_tokens(int64_t now) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, "SELECT jti FROM revoked_tokens WHERE exp >= ? ORDER BY jti");
  q.bind(1, now);
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text(0));
  return out;
}

int SqliteStore::purge_revoked_tokens(int64_t now) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, "DELETE FROM revoked_tokens WHERE exp < ?");
  q.bind(1, now);
  q.step();
  return sqlite3_changes(db_);
}

bool SqliteStore::mark_stale(const std::string& id, int64_t last_seen) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, sql::kMarkStaleSqlite);
  q.bind(1, id).bind(2, last_seen);
  q.step();
  return sqlite3_changes(db_) == 1;
}

}  // namespace redoubt::attest
