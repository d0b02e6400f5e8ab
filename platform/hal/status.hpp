// Errors as values for freestanding code: a Status carries a stable code and a
// human-readable message that names the cause. No exceptions, no allocation.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt {

// Stable error codes; the message says the specifics.
enum class Err : uint16_t {
  ok = 0,
  malformed,       // input does not parse (truncated, garbage, bad field)
  unsupported,     // well-formed but not something we accept (alg, version)
  bad_signature,   // signature does not verify
  wrong_key,       // signed by a key we do not trust
  digest_mismatch, // measured bytes differ from the signed digest
  rollback,        // security version below the anti-rollback counter
  tpm,             // the TPM returned an error
  io,              // host I/O (files, sockets)
  fault,           // a CPU fault (simulated platform)
  not_implemented, // a path that exists but is not built yet (never silent)
  internal,
  not_found,       // a TPM NV index (or similar) that is not defined
};

const char* err_name(Err e);

// Fixed-size message buffer: enough for a path or a hex digest and a reason.
class Status {
 public:
  static constexpr size_t kMsgCap = 240;

  constexpr Status() = default;
  static Status ok() { return Status(); }
  // printf-like subset: %s %d %u %x %lu %lx %llu %llx %zu %c (see format.cpp).
  static Status fail(Err code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

  bool is_ok() const { return code_ == Err::ok; }
  explicit operator bool() const { return is_ok(); }
  Err code() const { return code_; }
  const char* message() const { return code_ == Err::ok ? "ok" : msg_; }

 private:
  Err code_ = Err::ok;
  char msg_[kMsgCap] = {};
};

#define REDOUBT_TRY(expr)                  \
  do {                                     \
    ::redoubt::Status _st = (expr);        \
    if (!_st.is_ok()) return _st;          \
  } while (0)

}  // namespace redoubt
