// Every file the host tools write or read goes through here (docs/running.md,
// "Output files" and "Input size limits"):
// * an output is never left half-written: a temporary file in the same
//   directory is written, flushed (fsync), closed and renamed over the
//   destination, and the directory is synced; any failed step removes the
//   temporary file and leaves what was at the destination untouched;
// * an input is checked against a size limit (fstat, then a bounded read)
//   before its bytes are read, so a 1 GiB file costs one stat, not 1 GiB of RAM.
// No exceptions here: the callers wrap the result in their own error type.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>

namespace redoubt::policy {

struct FileError {
  int err = 0;       // errno (EFBIG for an input over its limit)
  std::string what;  // a sentence naming the file, the step and the cause
};

// Replaces `path` with `data`, mode `mode` (forced, whatever the umask). A
// destination that exists and is not a regular file (a character device such as
// /dev/null or /dev/full, a FIFO) is written in place, since it cannot be renamed over.
bool write_file_atomic(const std::string& path, std::span<const uint8_t> data, mode_t mode, FileError& e);

// Reads `path` whole if it holds at most `max_bytes`; otherwise fails with EFBIG
// and a message giving its size, the limit and `kind` ("hypervisor image", ...).
bool read_file_limited(const std::string& path, uint64_t max_bytes, const char* kind, std::string& out, FileError& e);

// "64 KiB", "15 MiB", "1000 bytes": sizes in messages.
std::string size_text(uint64_t bytes);

}  // namespace redoubt::policy
