// SQL text the two stores share (schema 4 queries, schema 6 indexes): written once with $N
// placeholders; SQLite takes ?N, so list_endpoints('?') rewrites them.
#pragma once
#include <string>

namespace redoubt::attest::sql {

// Schema 6, both backends (issue 13, throughput): a one-shot verdict (no endpoint, no nonce) is in
// neither of the verdicts' secondary indexes. Nothing looks one up by endpoint or nonce, yet each
// took an index entry — on SQLite two more pages in every commit's WAL frames (~15 µs of a 250 µs
// appraisal, docs/verifier-performance.md eighth round). A partial index serves only queries whose
// WHERE implies its predicate: `nonce = ?` implies `nonce IS NOT NULL` (SQLite "Partial Indexes"
// §2.1, PostgreSQL 15 §11.8), and the by-endpoint queries say `endpoint_id <> ''` themselves.
inline constexpr const char* kVerdictIndexes[] = {
    "DROP INDEX IF EXISTS verdicts_by_nonce",
    "CREATE UNIQUE INDEX verdicts_by_nonce ON verdicts(nonce) WHERE nonce IS NOT NULL",
    "DROP INDEX IF EXISTS verdicts_by_endpoint",
    "CREATE INDEX verdicts_by_endpoint ON verdicts(endpoint_id, seq) WHERE endpoint_id <> ''",
};

inline constexpr const char* kReferenceSetCols = "version, scope, ref_id, signer, by_whom, created, cose, rollback_of";

// The effective status, as VerifierService::effective_status computes it ($10 now, $11/$12 the
// push/pull stale intervals): a filter on status sees what a relying party sees.
inline std::string list_endpoints(char placeholder) {
  std::string s =
      "SELECT id, mode, status, group_name, last_error, agent_url, last_seen FROM endpoints"
      " WHERE id > $1"
      " AND ($2 = '' OR (CASE WHEN status = 'none' THEN 'none'"
      " WHEN mode = 'pull' AND $10 - last_seen > $12 THEN 'unreachable'"
      " WHEN mode <> 'pull' AND $10 - last_seen > $11 THEN 'stale' ELSE status END) = $2)"
      " AND ($3 = 0 OR group_name = $4) AND ($5 = 0 OR last_seen < $6) AND ($7 = 0 OR last_seen > $8)"
      " ORDER BY id LIMIT $9";
  if (placeholder != '$')
    for (char& c : s)
      if (c == '$') c = placeholder;
  return s;
}

// Once per silence: only for the last_seen the caller saw, never twice for it, never before a verdict.
inline constexpr const char* kMarkStaleSqlite =
    "UPDATE endpoints SET stale_marked = ?2 WHERE id = ?1 AND last_seen = ?2 AND stale_marked <> ?2 AND status <> 'none'";
inline constexpr const char* kMarkStalePg =
    "UPDATE endpoints SET stale_marked = $2 WHERE id = $1 AND last_seen = $2 AND stale_marked <> $2 AND status <> 'none'";

}  // namespace redoubt::attest::sql
