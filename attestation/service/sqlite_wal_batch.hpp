// An SQLite VFS that writes a WAL commit with one write() instead of two per frame (issue 13,
// throughput: a one-row verdict's commit was ~9 pwrite calls at ~2.5–6 µs each on this VM).
//
// SQLite writes each WAL frame as a 24-byte header and then the page (wal.c, walWriteOneFrame), each
// with its own xWrite. This VFS wraps the default one; the WAL file of a connection that was linked
// (link_wal) keeps contiguous appends in a buffer and writes them
//   - with the page of a transaction's commit frame (its header's "database size after commit" is not
//     zero): one write per commit, inside SQLite's xWrite, so a failed write fails the COMMIT;
//   - at the database file's xShmBarrier and xShmLock, if anything is still buffered: the wal-index
//     header that publishes frames to other connections is written around a barrier (wal.c
//     walIndexWriteHdr), and the WAL write lock is released through xShmLock (also after a ROLLBACK,
//     whose spilled frames are written then, before another writer may reuse their offsets);
//   - every other method of the WAL file itself (read, sync, size, truncate, file controls, close);
//   - a write that does not continue the buffer (written after the buffer), or a buffer past 96 KiB.
// Frames reach the file before any connection can learn of them and in the order SQLite wrote them,
// so readers, checkpoints and crash recovery see what they would without it; only the number of
// system calls changes. A connection that is not linked (or whose files are not this VFS's) is
// passed through unchanged. Decision and measurements: docs/verifier-performance.md, twelfth round.
#pragma once
#include <sqlite3.h>

#include <cstdint>

namespace redoubt::attest::sqlite_wal_batch {

// The VFS's name for sqlite3_open_v2 (registered on first call, not as the default).
const char* vfs_name();

// Links the main database file of `db` (opened with vfs_name(), in WAL mode, its WAL open: after a
// first transaction) to its WAL file, so that the WAL's writes are batched. False (and nothing
// batched) for a database that is not in WAL mode or not opened with this VFS.
bool link_wal(sqlite3* db);

// Links the main database file of `db` (a connection that only checkpoints: same conditions as
// link_wal) so that a checkpoint's page writes, in page order, are batched (contiguous pages, at most
// 96 KiB a write, written before any other call on the file: the sync that ends the copy, a lock, a
// size) and its reads of the WAL read 64 KiB ahead (dropped at every wal-index lock, barrier or map,
// so a read never returns frames written after the checkpoint began).
bool link_checkpointer(sqlite3* db);

// Process-wide counts of WAL writes SQLite made on linked files and of the writes made for them.
struct Counters {
  uint64_t writes_in = 0;
  uint64_t writes_out = 0;
  uint64_t late_flushes = 0;  // buffers written at a barrier or lock instead of at their commit frame
  uint64_t checkpoint_writes_in = 0;   // a linked checkpointer's page writes to the database file
  uint64_t checkpoint_writes_out = 0;  // the writes made for them
  uint64_t wal_reads_ahead = 0;        // its 64 KiB reads of the WAL
};
Counters counters();

// Test-only: with false, the buffer is written neither at the commit frame nor at the database
// file's barrier and lock calls, only when the WAL file is next used — what another connection then
// reads shows that those writes are what keep the WAL consistent.
void set_early_flush_for_test(bool on);

}  // namespace redoubt::attest::sqlite_wal_batch
