#include "platform/hal/status.hpp"

#include "platform/hal/format.hpp"

namespace redoubt {

const char* err_name(Err e) {
  switch (e) {
    case Err::ok: return "ok";
    case Err::malformed: return "malformed";
    case Err::unsupported: return "unsupported";
    case Err::bad_signature: return "bad-signature";
    case Err::wrong_key: return "wrong-key";
    case Err::digest_mismatch: return "digest-mismatch";
    case Err::rollback: return "rollback";
    case Err::tpm: return "tpm";
    case Err::io: return "io";
    case Err::fault: return "fault";
    case Err::not_implemented: return "not-implemented";
    case Err::internal: return "internal";
    case Err::not_found: return "not-found";
  }
  return "unknown";
}

Status Status::fail(Err code, const char* fmt, ...) {
  Status s;
  s.code_ = code == Err::ok ? Err::internal : code;
  va_list ap;
  va_start(ap, fmt);
  format_v(s.msg_, kMsgCap, fmt, ap);
  va_end(ap);
  return s;
}

}  // namespace redoubt
