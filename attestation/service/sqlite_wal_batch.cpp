// The WAL-batching SQLite VFS (sqlite_wal_batch.hpp says what and why). SQLite's VFS interface:
// https://sqlite.org/c3ref/vfs.html, sqlite3_io_methods https://sqlite.org/c3ref/io_methods.html;
// the WAL's write order: https://sqlite.org/walformat.html §2 and wal.c.
#include "attestation/service/sqlite_wal_batch.hpp"

#include <atomic>
#include <cstring>

namespace redoubt::attest::sqlite_wal_batch {
namespace {

// A larger transaction (a group commit's batch, a migration) is written in pieces of at most this.
// Below 128 KiB: the default (unix) VFS writes at most 0x1ffff bytes a call (os_unix.c seekAndWrite
// masks the count) and reports a longer write as a full disk.
constexpr int kMaxBuffer = 96 * 1024;
constexpr int kReadAhead = 64 * 1024;  // a checkpointer's WAL reads (its frames in page order: mostly in file order)
constexpr int kFrameHeader = 24;     // WAL frame header (https://sqlite.org/fileformat2.html §4.1)

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;
std::atomic<uint64_t> g_in{0}, g_out{0}, g_late{0}, g_ckpt_in{0}, g_ckpt_out{0}, g_readahead{0};
std::atomic<bool> g_flush_early{true};  // test-only switch

// Contiguous writes kept in memory: [off, off + len) in a kMaxBuffer-byte buffer, allocated when linked.
struct Pending {
  unsigned char* buf;
  int len;
  sqlite3_int64 off;
};

// Writes out what `b` holds. Written or not, the bytes are then SQLite's again: an error goes back to it.
int write_out(Pending& b, sqlite3_file* real, std::atomic<uint64_t>& made) {
  if (b.len == 0) return SQLITE_OK;
  const int n = b.len;
  b.len = 0;
  made.fetch_add(1, std::memory_order_relaxed);
  return real->pMethods->xWrite(real, b.buf, n, b.off);
}

// Keeps a write that continues `b` and fits; anything else first writes `b` out, so that writes reach
// the file in SQLite's order (an in-place rewrite of a frame of this transaction, wal.c iReCksum, too).
int keep(Pending& b, sqlite3_file* real, const void* p, int n, sqlite3_int64 off, std::atomic<uint64_t>& made) {
  if (b.len > 0 && (off != b.off + b.len || b.len + n > kMaxBuffer))
    if (int rc = write_out(b, real, made); rc != SQLITE_OK) return rc;
  if (n > kMaxBuffer) {
    made.fetch_add(1, std::memory_order_relaxed);
    return real->pMethods->xWrite(real, p, n, off);
  }
  if (b.len == 0) b.off = off;
  std::memcpy(b.buf + b.len, p, static_cast<size_t>(n));
  b.len += n;
  return SQLITE_OK;
}

struct WalFile;
struct DbFile {
  sqlite3_file base;  // pMethods = &kDbMethods (&kCkptDbMethods once link_checkpointer linked it)
  sqlite3_file* real;
  WalFile* wal;  // set by link_wal / link_checkpointer; cleared when either file closes
  Pending out;   // a checkpointer's database file: contiguous page writes kept until its next other call
};
struct WalFile {
  sqlite3_file base;  // pMethods = &kWalMethods
  sqlite3_file* real;
  DbFile* db;            // its database file once linked (either way); cleared when either file closes
  bool batch;            // link_wal: appends kept in `out`; else every write passed through
  Pending out;
  sqlite3_int64 commit;  // where the commit frame's page goes once its header is buffered, else -1
  // A checkpointer's WAL file: the bytes read ahead, [roff, roff + rlen), dropped at its database
  // file's next wal-index lock or barrier (frames past the checkpoint's end may still be written).
  unsigned char* rbuf;
  int rlen;
  sqlite3_int64 roff;
};

sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<DbFile*>(f)->real; }  // both start {base, real}

int flush(WalFile* w) {
  w->commit = -1;
  return write_out(w->out, w->real, g_out);
}

// ---- the WAL file ----
int wal_close(sqlite3_file* f) {
  auto* w = reinterpret_cast<WalFile*>(f);
  int rc = flush(w);
  if (w->db) w->db->wal = nullptr;
  w->db = nullptr;
  const int rc2 = w->real->pMethods->xClose(w->real);
  sqlite3_free(w->out.buf);
  sqlite3_free(w->rbuf);
  w->out.buf = w->rbuf = nullptr;
  return rc != SQLITE_OK ? rc : rc2;
}
int wal_read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
  auto* w = reinterpret_cast<WalFile*>(f);
  if (int rc = flush(w); rc != SQLITE_OK) return rc;
  if (!w->rbuf) return w->real->pMethods->xRead(w->real, p, n, off);
  if (off < w->roff || off + n > w->roff + w->rlen) {  // read the next kReadAhead bytes
    w->rlen = 0;
    if (n > kReadAhead) return w->real->pMethods->xRead(w->real, p, n, off);
    const int rc = w->real->pMethods->xRead(w->real, w->rbuf, kReadAhead, off);
    if (rc != SQLITE_OK) return w->real->pMethods->xRead(w->real, p, n, off);  // near the end (a short read): as asked
    g_readahead.fetch_add(1, std::memory_order_relaxed);
    w->roff = off;
    w->rlen = kReadAhead;
  }
  std::memcpy(p, w->rbuf + (off - w->roff), static_cast<size_t>(n));
  return SQLITE_OK;
}
int wal_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
  auto* w = reinterpret_cast<WalFile*>(f);
  if (!w->batch) return w->real->pMethods->xWrite(w->real, p, n, off);
  g_in.fetch_add(1, std::memory_order_relaxed);
  if (int rc = keep(w->out, w->real, p, n, off, g_out); rc != SQLITE_OK) return rc;
  // A frame header is 24 bytes; bytes 4..7 (the database size after the commit) are not zero only in
  // a transaction's commit frame (https://sqlite.org/fileformat2.html §4.1). The commit frame's page
  // completes the transaction: written here, so that a failed write fails the COMMIT (SQLite then
  // publishes nothing), before the wal-index header makes the frames visible.
  const auto* b = static_cast<const unsigned char*>(p);
  if (n == kFrameHeader && (b[4] | b[5] | b[6] | b[7]) != 0) {
    w->commit = off + n;
  } else if (off == w->commit && g_flush_early.load(std::memory_order_relaxed)) {
    return flush(w);
  }
  return SQLITE_OK;
}
int wal_truncate(sqlite3_file* f, sqlite3_int64 size) {
  auto* w = reinterpret_cast<WalFile*>(f);
  if (int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xTruncate(w->real, size);
}
int wal_sync(sqlite3_file* f, int flags) {
  auto* w = reinterpret_cast<WalFile*>(f);
  if (int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xSync(w->real, flags);
}
int wal_file_size(sqlite3_file* f, sqlite3_int64* size) {
  auto* w = reinterpret_cast<WalFile*>(f);
  if (int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFileSize(w->real, size);
}
int wal_file_control(sqlite3_file* f, int op, void* arg) {
  auto* w = reinterpret_cast<WalFile*>(f);
  if (int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFileControl(w->real, op, arg);
}
int wal_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** pp) {
  auto* w = reinterpret_cast<WalFile*>(f);
  if (int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFetch(w->real, off, n, pp);
}

// ---- forwarded as they are (both files) ----
int fwd_lock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xLock(real_of(f), l); }
int fwd_unlock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xUnlock(real_of(f), l); }
int fwd_check_reserved(sqlite3_file* f, int* out) { return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out); }
int fwd_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int fwd_device(sqlite3_file* f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); }
int fwd_shm_map(sqlite3_file* f, int pg, int sz, int extend, void volatile** pp) {
  return real_of(f)->pMethods->xShmMap(real_of(f), pg, sz, extend, pp);
}
int fwd_shm_unmap(sqlite3_file* f, int del) { return real_of(f)->pMethods->xShmUnmap(real_of(f), del); }
int fwd_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) { return real_of(f)->pMethods->xUnfetch(real_of(f), off, p); }
int fwd_read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) { return real_of(f)->pMethods->xRead(real_of(f), p, n, off); }
int fwd_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) { return real_of(f)->pMethods->xWrite(real_of(f), p, n, off); }
int fwd_truncate(sqlite3_file* f, sqlite3_int64 size) { return real_of(f)->pMethods->xTruncate(real_of(f), size); }
int fwd_sync(sqlite3_file* f, int flags) { return real_of(f)->pMethods->xSync(real_of(f), flags); }
int fwd_file_size(sqlite3_file* f, sqlite3_int64* size) { return real_of(f)->pMethods->xFileSize(real_of(f), size); }
int fwd_file_control(sqlite3_file* f, int op, void* arg) { return real_of(f)->pMethods->xFileControl(real_of(f), op, arg); }
int fwd_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** pp) { return real_of(f)->pMethods->xFetch(real_of(f), off, n, pp); }
void fwd_shm_barrier_only(sqlite3_file* f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
int fwd_shm_lock_only(sqlite3_file* f, int o, int n, int flags) { return real_of(f)->pMethods->xShmLock(real_of(f), o, n, flags); }

// ---- the database file: its WAL's buffer is written before the wal-index is published or a lock changes ----
// Bytes still buffered here (after a ROLLBACK that spilled; from a SQLite that writes frames in some
// other way) are counted as late, so that the test sees whether commits were recognised.
int db_flush_wal(DbFile* d) {
  if (!d->wal || d->wal->out.len == 0 || !g_flush_early.load(std::memory_order_relaxed)) return SQLITE_OK;
  g_late.fetch_add(1, std::memory_order_relaxed);
  return flush(d->wal);
}
int db_close(sqlite3_file* f) {
  auto* d = reinterpret_cast<DbFile*>(f);
  int rc = SQLITE_OK;
  if (d->wal) {
    rc = flush(d->wal);
    d->wal->db = nullptr;
    d->wal = nullptr;
  }
  const int rc2 = d->real->pMethods->xClose(d->real);
  return rc != SQLITE_OK ? rc : rc2;
}
int db_shm_lock(sqlite3_file* f, int o, int n, int flags) {
  auto* d = reinterpret_cast<DbFile*>(f);
  if (int rc = db_flush_wal(d); rc != SQLITE_OK) return rc;
  return fwd_shm_lock_only(f, o, n, flags);
}
void db_shm_barrier(sqlite3_file* f) {
  // Written before the barrier completes the wal-index header. The barrier reports nothing; a failed
  // write shows when SQLite next reads those frames.
  (void)db_flush_wal(reinterpret_cast<DbFile*>(f));
  fwd_shm_barrier_only(f);
}

// ---- a checkpointer's database file: its page writes in order, batched; anything else writes them first ----
int ckpt_flush(DbFile* d) { return write_out(d->out, d->real, g_ckpt_out); }
void drop_read_ahead(DbFile* d) {
  if (d->wal) d->wal->rlen = 0;
}
int ckpt_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
  auto* d = reinterpret_cast<DbFile*>(f);
  g_ckpt_in.fetch_add(1, std::memory_order_relaxed);
  return keep(d->out, d->real, p, n, off, g_ckpt_out);
}
#define REDOUBT_CKPT_FIRST(d) \
  if (int rc = ckpt_flush(reinterpret_cast<DbFile*>(d)); rc != SQLITE_OK) return rc
int ckpt_close(sqlite3_file* f) {
  auto* d = reinterpret_cast<DbFile*>(f);
  const int rc = ckpt_flush(d);
  sqlite3_free(d->out.buf);
  d->out.buf = nullptr;
  const int rc2 = db_close(f);
  return rc != SQLITE_OK ? rc : rc2;
}
int ckpt_read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) { REDOUBT_CKPT_FIRST(f); return fwd_read(f, p, n, off); }
int ckpt_truncate(sqlite3_file* f, sqlite3_int64 size) { REDOUBT_CKPT_FIRST(f); return fwd_truncate(f, size); }
int ckpt_sync(sqlite3_file* f, int flags) { REDOUBT_CKPT_FIRST(f); return fwd_sync(f, flags); }
int ckpt_file_size(sqlite3_file* f, sqlite3_int64* size) { REDOUBT_CKPT_FIRST(f); return fwd_file_size(f, size); }
int ckpt_lock(sqlite3_file* f, int l) { REDOUBT_CKPT_FIRST(f); return fwd_lock(f, l); }
int ckpt_unlock(sqlite3_file* f, int l) { REDOUBT_CKPT_FIRST(f); return fwd_unlock(f, l); }
int ckpt_check_reserved(sqlite3_file* f, int* out) { REDOUBT_CKPT_FIRST(f); return fwd_check_reserved(f, out); }
int ckpt_file_control(sqlite3_file* f, int op, void* arg) { REDOUBT_CKPT_FIRST(f); return fwd_file_control(f, op, arg); }
int ckpt_shm_map(sqlite3_file* f, int pg, int sz, int extend, void volatile** pp) {
  REDOUBT_CKPT_FIRST(f);
  drop_read_ahead(reinterpret_cast<DbFile*>(f));
  return fwd_shm_map(f, pg, sz, extend, pp);
}
int ckpt_shm_lock(sqlite3_file* f, int o, int n, int flags) {
  REDOUBT_CKPT_FIRST(f);
  drop_read_ahead(reinterpret_cast<DbFile*>(f));
  return fwd_shm_lock_only(f, o, n, flags);
}
void ckpt_shm_barrier(sqlite3_file* f) {
  (void)ckpt_flush(reinterpret_cast<DbFile*>(f));  // never anything here: a checkpoint syncs (or locks) before it publishes
  drop_read_ahead(reinterpret_cast<DbFile*>(f));
  fwd_shm_barrier_only(f);
}
int ckpt_shm_unmap(sqlite3_file* f, int del) { REDOUBT_CKPT_FIRST(f); return fwd_shm_unmap(f, del); }
int ckpt_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** pp) { REDOUBT_CKPT_FIRST(f); return fwd_fetch(f, off, n, pp); }
int ckpt_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) { REDOUBT_CKPT_FIRST(f); return fwd_unfetch(f, off, p); }
#undef REDOUBT_CKPT_FIRST

const sqlite3_io_methods kWalMethods = {3,          wal_close,      wal_read,        wal_write,         wal_truncate,
                                        wal_sync,   wal_file_size,  fwd_lock,        fwd_unlock,        fwd_check_reserved,
                                        wal_file_control, fwd_sector_size, fwd_device, fwd_shm_map,       fwd_shm_lock_only,
                                        fwd_shm_barrier_only, fwd_shm_unmap, wal_fetch, fwd_unfetch};
const sqlite3_io_methods kDbMethods = {3,          db_close,       fwd_read,        fwd_write,         fwd_truncate,
                                       fwd_sync,   fwd_file_size,  fwd_lock,        fwd_unlock,        fwd_check_reserved,
                                       fwd_file_control, fwd_sector_size, fwd_device, fwd_shm_map,      db_shm_lock,
                                       db_shm_barrier, fwd_shm_unmap, fwd_fetch,    fwd_unfetch};

const sqlite3_io_methods kCkptDbMethods = {3,           ckpt_close,     ckpt_read,        ckpt_write,      ckpt_truncate,
                                           ckpt_sync,   ckpt_file_size, ckpt_lock,        ckpt_unlock,     ckpt_check_reserved,
                                           ckpt_file_control, fwd_sector_size, fwd_device, ckpt_shm_map,  ckpt_shm_lock,
                                           ckpt_shm_barrier, ckpt_shm_unmap, ckpt_fetch,  ckpt_unfetch};

constexpr int kWrapper = static_cast<int>((sizeof(WalFile) + 15) & ~size_t{15});
static_assert(sizeof(DbFile) <= sizeof(WalFile), "both wrappers fit in front of the real file");

// The main database and its WAL are wrapped; every other file (journals, temporary files) is the
// default VFS's own, opened into the same memory.
int vfs_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  const bool wal = (flags & SQLITE_OPEN_WAL) != 0, db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  if (!wal && !db) return g_real->xOpen(g_real, name, f, flags, out_flags);
  auto* real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<unsigned char*>(f) + kWrapper);
  std::memset(f, 0, kWrapper);
  const int rc = g_real->xOpen(g_real, name, real, flags, out_flags);
  if (rc != SQLITE_OK || !real->pMethods || real->pMethods->iVersion < 3) {
    if (rc == SQLITE_OK && real->pMethods) real->pMethods->xClose(real);  // an unexpected default VFS: refuse
    f->pMethods = nullptr;
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  if (wal) {
    auto* w = reinterpret_cast<WalFile*>(f);
    w->real = real;
    w->commit = -1;
    w->base.pMethods = &kWalMethods;
  } else {
    auto* d = reinterpret_cast<DbFile*>(f);
    d->real = real;
    d->base.pMethods = &kDbMethods;
  }
  return SQLITE_OK;
}

// The rest of the VFS is the default one's, called with the default VFS (it keeps its state there).
int vfs_delete(sqlite3_vfs*, const char* n, int sync) { return g_real->xDelete(g_real, n, sync); }
int vfs_access(sqlite3_vfs*, const char* n, int flags, int* out) { return g_real->xAccess(g_real, n, flags, out); }
int vfs_full_pathname(sqlite3_vfs*, const char* n, int size, char* out) { return g_real->xFullPathname(g_real, n, size, out); }
void* vfs_dl_open(sqlite3_vfs*, const char* n) { return g_real->xDlOpen(g_real, n); }
void vfs_dl_error(sqlite3_vfs*, int n, char* msg) { g_real->xDlError(g_real, n, msg); }
void (*vfs_dl_sym(sqlite3_vfs*, void* h, const char* s))(void) { return g_real->xDlSym(g_real, h, s); }
void vfs_dl_close(sqlite3_vfs*, void* h) { g_real->xDlClose(g_real, h); }
int vfs_randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int vfs_sleep(sqlite3_vfs*, int us) { return g_real->xSleep(g_real, us); }
int vfs_current_time(sqlite3_vfs*, double* t) { return g_real->xCurrentTime(g_real, t); }
int vfs_last_error(sqlite3_vfs*, int n, char* msg) { return g_real->xGetLastError(g_real, n, msg); }
int vfs_current_time64(sqlite3_vfs*, sqlite3_int64* t) { return g_real->xCurrentTimeInt64(g_real, t); }
int vfs_set_syscall(sqlite3_vfs*, const char* n, sqlite3_syscall_ptr p) { return g_real->xSetSystemCall(g_real, n, p); }
sqlite3_syscall_ptr vfs_get_syscall(sqlite3_vfs*, const char* n) { return g_real->xGetSystemCall(g_real, n); }
const char* vfs_next_syscall(sqlite3_vfs*, const char* n) { return g_real->xNextSystemCall(g_real, n); }

const char* register_vfs() {
  g_real = sqlite3_vfs_find(nullptr);
  if (!g_real || g_real->iVersion < 3) return nullptr;
  g_vfs = sqlite3_vfs{3,
                      kWrapper + g_real->szOsFile,
                      g_real->mxPathname,
                      nullptr,
                      "redoubt-wal-batch",
                      nullptr,
                      vfs_open,
                      vfs_delete,
                      vfs_access,
                      vfs_full_pathname,
                      vfs_dl_open,
                      vfs_dl_error,
                      vfs_dl_sym,
                      vfs_dl_close,
                      vfs_randomness,
                      vfs_sleep,
                      vfs_current_time,
                      vfs_last_error,
                      vfs_current_time64,
                      vfs_set_syscall,
                      vfs_get_syscall,
                      vfs_next_syscall};
  if (sqlite3_vfs_register(&g_vfs, 0) != SQLITE_OK) return nullptr;
  return g_vfs.zName;
}

}  // namespace

const char* vfs_name() {
  static const char* const name = register_vfs();
  return name;  // null: the default VFS is older than expected; callers open with the default
}

namespace {
// The main database file and the WAL of `db`, if both are this VFS's and not linked yet.
bool unlinked_files(sqlite3* db, DbFile*& d, WalFile*& w) {
  sqlite3_file* main = nullptr;
  sqlite3_file* journal = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &main) != SQLITE_OK || !main || main->pMethods != &kDbMethods) return false;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &journal) != SQLITE_OK || !journal || journal->pMethods != &kWalMethods)
    return false;  // no WAL open (not WAL mode, or no transaction yet): a rollback journal is never batched
  d = reinterpret_cast<DbFile*>(main);
  w = reinterpret_cast<WalFile*>(journal);
  return !d->wal;
}
}  // namespace

bool link_wal(sqlite3* db) {
  DbFile* d = nullptr;
  WalFile* w = nullptr;
  if (!unlinked_files(db, d, w) || !(w->out.buf = static_cast<unsigned char*>(sqlite3_malloc(kMaxBuffer)))) return false;
  d->wal = w;
  w->db = d;
  w->batch = true;
  return true;
}

bool link_checkpointer(sqlite3* db) {
  DbFile* d = nullptr;
  WalFile* w = nullptr;
  if (!unlinked_files(db, d, w)) return false;
  d->out.buf = static_cast<unsigned char*>(sqlite3_malloc(kMaxBuffer));
  w->rbuf = static_cast<unsigned char*>(sqlite3_malloc(kReadAhead));
  if (!d->out.buf || !w->rbuf) {
    sqlite3_free(d->out.buf);
    sqlite3_free(w->rbuf);
    d->out.buf = w->rbuf = nullptr;
    return false;
  }
  d->wal = w;
  w->db = d;  // its writes are not batched (w->batch stays false): a checkpointer writes no frames
  d->base.pMethods = &kCkptDbMethods;
  return true;
}

Counters counters() { return {g_in.load(), g_out.load(), g_late.load(), g_ckpt_in.load(), g_ckpt_out.load(), g_readahead.load()}; }

void set_early_flush_for_test(bool on) { g_flush_early.store(on); }

}  // namespace redoubt::attest::sqlite_wal_batch
