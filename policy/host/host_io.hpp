// Small host helpers shared by the OpenSSL tools (keys, PKI, signing): the last
// OpenSSL error as text, and file I/O that forces a mode (private keys are 0600
// even when the file existed before). Errors are thrown as the caller's type E.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace redoubt::policy {

// Lower-case hex of b.
std::string hex(std::span<const uint8_t> b);

// The oldest queued OpenSSL error as text (the queue is cleared).
std::string openssl_error();

// 0 on success, else errno.
int write_file_mode_errno(const std::string& path, const std::string& data, mode_t mode);
int read_file_errno(const std::string& path, std::string& out);

template <class E>
void write_file_mode(const std::string& path, const std::string& data, mode_t mode, const char* who) {
  if (int e = write_file_mode_errno(path, data, mode)) throw E(std::string(who) + ": " + path + ": " + std::strerror(e));
}

template <class E>
std::string read_file_text(const std::string& path, const char* who) {
  std::string out;
  if (int e = read_file_errno(path, out))
    throw E(std::string(who) + ": " + path + ": cannot open: " + std::strerror(e));
  return out;
}

}  // namespace redoubt::policy
