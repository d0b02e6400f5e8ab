// Big-endian TPM 2.0 marshalling (TPM 2.0 Part 1 §18 "Command/Response
// Structure"; every integer is big-endian, Part 2 §5.1) into and out of fixed
// buffers, with bounds checked on every step. A reader past the end does not
// read: it sets failed() and returns zeros, so a parser checks once at the end
// of a group of reads and names what was short. Freestanding, header-only.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::x86::tpm2 {

class Writer {
 public:
  Writer(uint8_t* buf, size_t cap) : buf_(buf), cap_(cap) {}
  void u8(uint8_t v) { put(&v, 1); }
  void u16(uint16_t v) {
    const uint8_t b[2] = {uint8_t(v >> 8), uint8_t(v)};
    put(b, 2);
  }
  void u32(uint32_t v) {
    const uint8_t b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
    put(b, 4);
  }
  void bytes(const uint8_t* p, size_t n) { put(p, n); }
  // Header: tag, size placeholder, command code (Part 1 §18.2).
  void header(uint16_t tag, uint32_t cc) {
    u16(tag);
    u32(0);
    u32(cc);
  }
  // Patches the header size; returns the frame length, 0 if it did not fit.
  size_t finish() {
    if (overflow_ || len_ < 10) return 0;
    const uint32_t n = static_cast<uint32_t>(len_);
    buf_[2] = uint8_t(n >> 24);
    buf_[3] = uint8_t(n >> 16);
    buf_[4] = uint8_t(n >> 8);
    buf_[5] = uint8_t(n);
    return len_;
  }
  size_t size() const { return len_; }

 private:
  void put(const uint8_t* p, size_t n) {
    if (overflow_ || n > cap_ - len_) {
      overflow_ = true;
      return;
    }
    for (size_t i = 0; i < n; ++i) buf_[len_ + i] = p[i];
    len_ += n;
  }
  uint8_t* buf_;
  size_t cap_;
  size_t len_ = 0;
  bool overflow_ = false;
};

class Reader {
 public:
  Reader(const uint8_t* buf, size_t n) : buf_(buf), n_(n) {}
  uint8_t u8() {
    uint8_t b[1] = {};
    get(b, 1);
    return b[0];
  }
  uint16_t u16() {
    uint8_t b[2] = {};
    get(b, 2);
    return uint16_t((b[0] << 8) | b[1]);
  }
  uint32_t u32() {
    uint8_t b[4] = {};
    get(b, 4);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }
  // Copies n bytes out (out may be nullptr to skip them).
  void bytes(uint8_t* out, size_t n) {
    if (failed_ || n > n_ - pos_) {
      failed_ = true;
      return;
    }
    if (out)
      for (size_t i = 0; i < n; ++i) out[i] = buf_[pos_ + i];
    pos_ += n;
  }
  bool failed() const { return failed_; }
  size_t pos() const { return pos_; }
  size_t remaining() const { return failed_ ? 0 : n_ - pos_; }

 private:
  void get(uint8_t* out, size_t n) { bytes(out, n); }
  const uint8_t* buf_;
  size_t n_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace redoubt::x86::tpm2
