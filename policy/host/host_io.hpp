// Small host helpers shared by the OpenSSL tools (keys, PKI, signing): the last
// OpenSSL error as text, and file I/O that forces a mode (private keys are 0600
// even when the file existed before), replaces files atomically and bounds what
// it reads. Errors are thrown as the caller's type E.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "policy/host/safe_file.hpp"

namespace redoubt::policy {

// Lower-case hex of b.
std::string hex(std::span<const uint8_t> b);

// The oldest queued OpenSSL error as text (the queue is cleared).
std::string openssl_error();

// Keys, certificates and PEM bundles are small; anything over this is not one (docs/running.md).
inline constexpr uint64_t kMaxPemFile = 1u << 20;

// Atomic, checked writes (policy/host/safe_file.hpp); the error names the file, the step and errno.
template <class E>
void write_file_mode(const std::string& path, const std::string& data, mode_t mode, const char* who) {
  FileError fe;
  if (!write_file_atomic(path, {reinterpret_cast<const uint8_t*>(data.data()), data.size()}, mode, fe))
    throw E(std::string(who) + ": " + fe.what);
}

// A key / certificate file, refused unread when over kMaxPemFile.
template <class E>
std::string read_file_text(const std::string& path, const char* who, const char* kind = "key or certificate file") {
  std::string out;
  FileError fe;
  if (!read_file_limited(path, kMaxPemFile, kind, out, fe)) throw E(std::string(who) + ": " + fe.what);
  return out;
}

}  // namespace redoubt::policy
