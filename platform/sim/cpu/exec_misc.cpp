// Less frequent general-purpose instructions (width decided at run time).
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "platform/sim/cpu/exec_decl.hpp"

namespace redoubt::sim::cpu::exec {

namespace {
uint64_t rm_read(Cpu& c, const Op& o, bool mem, unsigned w) { return mem ? rmem_w(c, ea(c, o), w) : rreg_w(c, o.src, w); }
uint64_t mask_w(unsigned w) { return w == 8 ? ~0ull : (1ull << (8 * w)) - 1; }
// True if [p, p+n) holds only zero bytes. A page the host has never backed (neither present nor
// swapped in /proc/self/pagemap: Linux Documentation/admin-guide/mm/pagemap.rst) is zero and is
// not read: on kernels that do not map the shared zero page for a read fault (this project's
// build VM, docs/simulator-cpu.md) reading it would allocate it, which is what the caller avoids.
bool all_zero(const uint8_t* p, uint64_t n) {
  static constexpr uint8_t kZeros[512] = {};
  static const int pagemap = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);  // -1: scan everything
  auto scan = [](const uint8_t* q, uint64_t len) {
    for (uint64_t i = 0; i < len; i += sizeof kZeros)  // a non-zero block ends the scan early
      if (std::memcmp(q + i, kZeros, std::min<uint64_t>(len - i, sizeof kZeros)) != 0) return false;
    return true;
  };
  if (pagemap < 0) return scan(p, n);
  constexpr uint64_t kPage = 4096, kBatch = 512;
  constexpr uint64_t kPresent = 1ull << 63, kSwapped = 1ull << 62;
  uint64_t entries[kBatch];
  uint64_t at = reinterpret_cast<uintptr_t>(p);
  const uint64_t end = at + n;
  while (at < end) {
    const uint64_t first = at / kPage, pages = std::min<uint64_t>((end - 1) / kPage - first + 1, kBatch);
    const ssize_t got = ::pread(pagemap, entries, pages * 8, off_t(first * 8));
    if (got != ssize_t(pages * 8)) return scan(reinterpret_cast<const uint8_t*>(at), end - at);
    for (uint64_t k = 0; k < pages && at < end; ++k) {
      const uint64_t stop = std::min(end, (first + k + 1) * kPage);
      if ((entries[k] & (kPresent | kSwapped)) && !scan(reinterpret_cast<const uint8_t*>(at), stop - at)) return false;
      at = stop;
    }
  }
  return true;
}
}  // namespace

// MUL / IMUL r/m (one operand): rDX:rAX = rAX * src (APM vol. 3 "MUL", "IMUL").
void mul1(Cpu& c, const Op& o) {
  const unsigned w = o.w;
  const uint64_t s = rm_read(c, o, o.cc & 1, w);
  const bool sgn = o.cc & 2;
  uint64_t lo, hi;
  bool ovf;
  if (w == 8) {
    if (sgn) {
      __int128 p = __int128(int64_t(c.gpr[RAX])) * int64_t(s);
      lo = uint64_t(p);
      hi = uint64_t(p >> 64);
      ovf = p != __int128(int64_t(lo));
    } else {
      unsigned __int128 p = (unsigned __int128)c.gpr[RAX] * s;
      lo = uint64_t(p);
      hi = uint64_t(p >> 64);
      ovf = hi != 0;
    }
  } else {
    const uint64_t a = trunc(c.gpr[RAX], w);
    if (sgn) {
      const int64_t p = sext(a, w) * sext(s, w);
      lo = trunc(uint64_t(p), w);
      hi = trunc(uint64_t(p) >> (8 * w), w);
      ovf = p != sext(lo, w);
    } else {
      const uint64_t p = a * trunc(s, w);
      lo = trunc(p, w);
      hi = trunc(p >> (8 * w), w);
      ovf = hi != 0;
    }
  }
  if (w == 1) {
    wreg<2>(c, reg_off(RAX), lo | (hi << 8));
  } else {
    wreg_w(c, reg_off(RAX), w, lo);
    wreg_w(c, reg_off(RDX), w, hi);
  }
  c.set_status(szp(lo, w) | (ovf ? kCF | kOF : 0));
}

// DIV / IDIV r/m: #DE on a zero divisor or a quotient that does not fit.
void div1(Cpu& c, const Op& o) {
  const unsigned w = o.w;
  const uint64_t d = trunc(rm_read(c, o, o.cc & 1, w), w);
  const bool sgn = o.cc & 2;
  if (d == 0) c.fault(0, 0, false);
  uint64_t q, r;
  if (w == 8) {
    if (sgn) {
      const __int128 n = (__int128(int64_t(c.gpr[RDX])) << 64) | c.gpr[RAX];
      const __int128 qq = n / int64_t(d);
      if (qq != __int128(int64_t(qq))) c.fault(0, 0, false);
      q = uint64_t(qq);
      r = uint64_t(n % int64_t(d));
    } else {
      const unsigned __int128 n = ((unsigned __int128)c.gpr[RDX] << 64) | c.gpr[RAX];
      const unsigned __int128 qq = n / d;
      if (qq >> 64) c.fault(0, 0, false);
      q = uint64_t(qq);
      r = uint64_t(n % d);
    }
  } else {
    const unsigned b = 8 * w;
    const uint64_t n = w == 1 ? trunc(c.gpr[RAX], 2) : (trunc(c.gpr[RDX], w) << b) | trunc(c.gpr[RAX], w);
    if (sgn) {
      const int64_t sn = w == 1 ? int16_t(n) : w == 2 ? int32_t(n) : int64_t(n);
      const int64_t sd = sext(d, w);
      if (sd == -1 && sn == INT64_MIN) c.fault(0, 0, false);
      const int64_t qq = sn / sd;
      if (qq != sext(trunc(uint64_t(qq), w), w)) c.fault(0, 0, false);
      q = trunc(uint64_t(qq), w);
      r = trunc(uint64_t(sn % sd), w);
    } else {
      const uint64_t qq = n / d;
      if (qq > mask_w(w)) c.fault(0, 0, false);
      q = qq;
      r = n % d;
    }
  }
  if (w == 1) {
    wreg<2>(c, reg_off(RAX), q | (r << 8));
  } else {
    wreg_w(c, reg_off(RAX), w, q);
    wreg_w(c, reg_off(RDX), w, r);
  }
}

// IMUL r, r/m[, imm]: truncated signed product; CF = OF = overflow.
void imul2(Cpu& c, const Op& o) {
  const unsigned w = o.w;
  const uint64_t a = (o.cc & 4) ? o.imm : rreg_w(c, o.dst, w);
  const uint64_t b = rm_read(c, o, o.cc & 1, w);
  uint64_t lo;
  bool ovf;
  if (w == 8) {
    const __int128 p = __int128(int64_t(a)) * int64_t(b);
    lo = uint64_t(p);
    ovf = p != __int128(int64_t(lo));
  } else {
    const int64_t p = sext(a, w) * sext(b, w);
    lo = trunc(uint64_t(p), w);
    ovf = p != sext(lo, w);
  }
  wreg_w(c, o.dst, w, lo);
  if (!o.flags_dead) c.set_status(szp(lo, w) | (ovf ? kCF | kOF : 0));
}

void xchg(Cpu& c, const Op& o) {
  const unsigned w = o.w;
  if (o.cc & 1) {
    const uint64_t a = ea(c, o);
    const uint64_t m = rmem_w(c, a, w);
    wmem_w(c, a, w, rreg_w(c, o.src, w));
    wreg_w(c, o.src, w, m);
  } else {
    const uint64_t x = rreg_w(c, o.dst, w), y = rreg_w(c, o.src, w);
    wreg_w(c, o.dst, w, y);
    wreg_w(c, o.src, w, x);
  }
}

// CMPXCHG r/m, r: compare rAX with dst; ZF tells which way it went.
void cmpxchg(Cpu& c, const Op& o) {
  const unsigned w = o.w;
  const bool mem = o.cc & 1;
  const uint64_t a = mem ? ea(c, o) : 0;
  const uint64_t d = mem ? rmem_w(c, a, w) : rreg_w(c, o.dst, w);
  const uint64_t acc = trunc(c.gpr[RAX], w);
  if (acc == d) {
    if (mem) wmem_w(c, a, w, rreg_w(c, o.src, w));
    else wreg_w(c, o.dst, w, rreg_w(c, o.src, w));
  } else {
    if (mem) wmem_w(c, a, w, d);  // the destination is always written (locked RMW)
    wreg_w(c, reg_off(RAX), w, d);
  }
  c.lz_carry = 0;
  c.set_lazy(kLzSub, w, acc - d, acc, d);
}

void xadd(Cpu& c, const Op& o) {
  const unsigned w = o.w;
  const bool mem = o.cc & 1;
  const uint64_t a = mem ? ea(c, o) : 0;
  const uint64_t d = mem ? rmem_w(c, a, w) : rreg_w(c, o.dst, w);
  const uint64_t s = rreg_w(c, o.src, w);
  const uint64_t r = trunc(d + s, w);
  if (mem) wmem_w(c, a, w, r);
  wreg_w(c, o.src, w, d);
  if (!mem) wreg_w(c, o.dst, w, r);
  c.set_lazy(kLzAdd, w, r, d, s);
}

void bswap(Cpu& c, const Op& o) {
  if (o.w == 8) c.gpr[o.dst >> 3] = __builtin_bswap64(c.gpr[o.dst >> 3]);
  else wreg<4>(c, o.dst, __builtin_bswap32(uint32_t(c.gpr[o.dst >> 3])));
}

// BT/BTS/BTR/BTC: cc bits [1:0] = 0 BT, 1 BTS, 2 BTR, 3 BTC; bit 2 = memory; bit 3 = immediate offset.
void bt(Cpu& c, const Op& o) {
  const unsigned w = o.w, bits = 8 * w;
  const bool mem = o.cc & 4, imm = o.cc & 8;
  const unsigned op = o.cc & 3;
  int64_t off = imm ? int64_t(o.imm & (bits - 1)) : sext(rreg_w(c, o.src, w), w);
  uint64_t a = 0, v;
  if (mem) {
    a = ea(c, o);
    if (!imm) {  // register offset addresses a bit string (APM vol. 3 "BT")
      a += uint64_t((off >> (w == 8 ? 6 : w == 4 ? 5 : 4)) * int64_t(w));
      off &= bits - 1;
    }
    v = rmem_w(c, a, w);
  } else {
    off &= bits - 1;
    v = rreg_w(c, o.dst, w);
  }
  const bool bit = (v >> off) & 1;
  uint64_t nv = v;
  if (op == 1) nv |= 1ull << off;
  else if (op == 2) nv &= ~(1ull << off);
  else if (op == 3) nv ^= 1ull << off;
  if (op) {
    if (mem) wmem_w(c, a, w, nv);
    else wreg_w(c, o.dst, w, nv);
  }
  c.set_status((c.status_flags() & ~kCF) | (bit ? kCF : 0));
}

// SHLD / SHRD r/m, r, imm8|CL (APM vol. 3 "SHLD", "SHRD"; cc bit 0 memory, 1 right, 2 count in CL).
// The count is masked to 5 bits (6 with REX.W); 0 changes nothing (a 32-bit register is still
// zero-extended, as for the other shifts). CF is the last bit shifted out, OF the sign change of a
// 1-bit shift, SF/ZF/PF from the result; AF (and OF for counts > 1) undefined. A 16-bit count above 16
// leaves result and flags undefined: here the bits of dst:src:dst (cpu_difftest does not generate it).
void shxd(Cpu& c, const Op& o) {
  const unsigned w = o.w, bits = 8 * w;
  const bool mem = o.cc & 1, right = o.cc & 2;
  const unsigned n = unsigned((o.cc & 4) ? c.gpr[RCX] : o.imm) & (w == 8 ? 63 : 31);
  uint64_t addr = 0, a;
  if (mem) { addr = ea(c, o); a = rmem_w(c, addr, w); }
  else a = rreg_w(c, o.dst, w);
  if (n == 0) {
    if (!mem && w == 4) wreg_w(c, o.dst, 4, a);
    return;
  }
  const uint64_t b = rreg_w(c, o.src, w);
  using U128 = unsigned __int128;
  const uint64_t mask = w == 8 ? ~0ull : (1ull << bits) - 1;
  uint64_t r;
  bool cf;
  if (w == 8) {  // n <= 63: a:b (SHLD) or b:a (SHRD) fits in 128 bits
    if (!right) {
      const U128 v = (U128(a) << 64) | b;
      r = uint64_t(v >> (64 - n));
      cf = uint64_t(v >> (128 - n)) & 1;
    } else {
      const U128 v = (U128(b) << 64) | a;
      r = uint64_t(v >> n);
      cf = uint64_t(v >> (n - 1)) & 1;
    }
  } else {       // a:b:a (at most 96 bits) also covers a 16-bit count of 17..31
    const U128 v = (U128(a) << (2 * bits)) | (U128(b) << bits) | a;
    const unsigned sh = right ? n : 2 * bits - n;
    r = uint64_t(v >> sh) & mask;
    cf = uint64_t(v >> (right ? n - 1 : 3 * bits - n)) & 1;
  }
  if (mem) wmem_w(c, addr, w, r);
  else wreg_w(c, o.dst, w, r);
  const bool of = ((r ^ a) >> (bits - 1)) & 1;
  c.set_status(szp(r, w) | (cf ? kCF : 0) | (of ? kOF : 0));
}

// BSF / BSR (cc 0 / 1; bit 2 memory source): ZF=1 and destination unchanged for a zero source.
void bsf(Cpu& c, const Op& o) {
  const unsigned w = o.w;
  const uint64_t s = trunc(rm_read(c, o, o.cc & 4, w), w);
  uint64_t f = c.status_flags() & ~kZF;
  if (s == 0) {
    c.set_status(f | kZF);
    return;
  }
  const uint64_t r = (o.cc & 1) ? 63 - __builtin_clzll(s) : __builtin_ctzll(s);
  wreg_w(c, o.dst, w, r);
  c.set_status(f);
}

// CBW/CWDE/CDQE (cc 0) and CWD/CDQ/CQO (cc 1).
void cvt(Cpu& c, const Op& o) {
  const unsigned w = o.w;
  if (o.cc == 0) {
    wreg_w(c, reg_off(RAX), w, uint64_t(sext(c.gpr[RAX], w / 2)));
  } else {
    const bool neg = (c.gpr[RAX] >> (8 * w - 1)) & 1;
    wreg_w(c, reg_off(RDX), w, neg ? ~0ull : 0);
  }
}

void push_rm(Cpu& c, const Op& o) {
  uint64_t v;
  if (o.cc == 0) v = c.gpr[o.src >> 3];
  else if (o.cc == 1) v = c.rd<uint64_t>(ea(c, o));
  else v = o.imm;
  if (o.w == 2) {
    const uint64_t sp = c.gpr[RSP] - 2;
    c.wr<uint16_t>(sp, uint16_t(v));
    c.gpr[RSP] = sp;
  } else {
    push64(c, v);
  }
}

void pop_rm(Cpu& c, const Op& o) {
  if (o.w == 2) {
    const uint16_t v = c.rd<uint16_t>(c.gpr[RSP]);
    c.gpr[RSP] += 2;
    wreg<2>(c, o.dst, v);
    return;
  }
  const uint64_t v = c.rd<uint64_t>(c.gpr[RSP]);
  if (o.cc == 1) {  // POP m64: the address uses the incremented RSP (APM vol. 3 "POP")
    const uint64_t sp = c.gpr[RSP];
    c.gpr[RSP] = sp + 8;
    const Cpu::NoJump nj(c);  // the catch below restores state: this scope throws
    try {
      c.wr<uint64_t>(ea(c, o), v);
    } catch (...) {
      c.gpr[RSP] = sp;
      throw;
    }
    return;
  }
  c.gpr[RSP] += 8;
  c.gpr[o.dst >> 3] = v;
}

void leave(Cpu& c, const Op&) {
  const uint64_t v = c.rd<uint64_t>(c.gpr[RBP]);
  c.gpr[RSP] = c.gpr[RBP] + 8;
  c.gpr[RBP] = v;
}

// CLC STC CMC CLD STD (cc 0..4), LAHF (5), SAHF (6).
void flagop(Cpu& c, const Op& o) {
  uint64_t f = c.status_flags();
  switch (o.cc) {
    case 0: c.set_status(f & ~kCF); break;
    case 1: c.set_status(f | kCF); break;
    case 2: c.set_status(f ^ kCF); break;
    case 3: c.rflags_sys &= ~kDF; break;
    case 4: c.rflags_sys |= kDF; break;
    case 5: wreg<1>(c, reg_off(RAX) + 1, (f & 0xD5) | 2); break;
    case 6: c.set_status((f & ~0xD5ull) | ((c.gpr[RAX] >> 8) & 0xD5)); break;
  }
}

void nop(Cpu&, const Op&) {}
void ud(Cpu& c, const Op&) { c.ud(); }

// ---- string instructions: cc = kind (0 MOVS 1 STOS 2 LODS 3 SCAS 4 CMPS), rep in o.w2 (0, 1 REP/REPE, 2 REPNE) ----
void string_op(Cpu& c, const Op& o) {
  const unsigned w = o.w;
  const int64_t step = (c.rflags_sys & kDF) ? -int64_t(w) : int64_t(w);
  const uint64_t src_base = c.seg_base[o.seg];  // DS:rSI unless overridden
  const uint64_t dst_base = c.seg_base[0];   // ES:rDI, never overridden (0 in 64-bit mode)
  const bool rep = o.w2 != 0;
  auto addr = [&](uint64_t v) { return o.asz32 ? uint64_t(uint32_t(v)) : v; };  // 32-bit rSI/rDI wrap
  for (uint64_t iter = 0;; ++iter) {
    if (rep && rep_ends_here(c, iter, o.asz32)) return;  // interruptible between iterations
    // Bulk fast path for REP MOVS/STOS forward within one page each.
    if (rep && step > 0 && !o.asz32 && (o.cc == 0 || o.cc == 1)) {
      const uint64_t di = c.gpr[RDI], si = src_base + c.gpr[RSI];
      uint64_t room = (4096 - (di & 0xFFF)) / w;
      if (o.cc == 0) room = std::min<uint64_t>(room, (4096 - (si & 0xFFF)) / w);
      const uint64_t n = std::min<uint64_t>(room, c.gpr[RCX]);
      if (n > 1) {
        const uint64_t dpa = c.translate(di, kWrite);
        uint8_t* dp = c.host_ptr(dpa, n * w);
        const uint8_t* sp = nullptr;
        if (o.cc == 0) sp = c.host_ptr(c.translate(si, kRead), n * w);
        if (dp && (o.cc == 1 || sp)) {
          c.note_code_write(dpa);
          if (o.cc == 0) {
            // Byte by byte forward, as the CPU copies: the same bytes as memmove unless the
            // destination starts inside the source (then the copy re-reads bytes it wrote).
            const uintptr_t d = reinterpret_cast<uintptr_t>(dp), s = reinterpret_cast<uintptr_t>(sp), len = n * w;
            if (d > s && d < s + len) {
              for (uint64_t i = 0; i < len; ++i) dp[i] = sp[i];
            } else {
              std::memmove(dp, sp, len);
            }
            c.gpr[RSI] += n * w;
          } else {
            const uint64_t v = c.gpr[RAX];
            // Zeroing memory that already reads as zero (a scrub of RAM no one has written yet)
            // leaves it unchanged: skip the stores, so the host does not allocate the pages
            // (issue 9: simulated RAM costs nothing until touched). Same bytes either way.
            if (trunc(v, w) == 0 && all_zero(dp, n * w)) {
            } else if (w == 1) std::memset(dp, int(v & 0xFF), n);
            else for (uint64_t i = 0; i < n; ++i) std::memcpy(dp + i * w, &v, w);
          }
          c.gpr[RDI] += n * w;
          c.gpr[RCX] -= n;
          continue;
        }
      }
    }
    switch (o.cc) {
      case 0: {
        const uint64_t v = rmem_w(c, src_base + addr(c.gpr[RSI]), w);
        wmem_w(c, dst_base + addr(c.gpr[RDI]), w, v);
        c.gpr[RSI] = addr(c.gpr[RSI] + step);
        c.gpr[RDI] = addr(c.gpr[RDI] + step);
        break;
      }
      case 1:
        wmem_w(c, dst_base + addr(c.gpr[RDI]), w, c.gpr[RAX]);
        c.gpr[RDI] = addr(c.gpr[RDI] + step);
        break;
      case 2:
        wreg_w(c, reg_off(RAX), w, rmem_w(c, src_base + addr(c.gpr[RSI]), w));
        c.gpr[RSI] = addr(c.gpr[RSI] + step);
        break;
      case 3: {
        const uint64_t a = trunc(c.gpr[RAX], w), b = rmem_w(c, dst_base + addr(c.gpr[RDI]), w);
        c.gpr[RDI] = addr(c.gpr[RDI] + step);
        c.lz_carry = 0;
        c.set_lazy(kLzSub, w, a - b, a, b);
        break;
      }
      default: {
        const uint64_t a = rmem_w(c, src_base + addr(c.gpr[RSI]), w), b = rmem_w(c, dst_base + addr(c.gpr[RDI]), w);
        c.gpr[RSI] = addr(c.gpr[RSI] + step);
        c.gpr[RDI] = addr(c.gpr[RDI] + step);
        c.lz_carry = 0;
        c.set_lazy(kLzSub, w, a - b, a, b);
        break;
      }
    }
    if (!rep) return;
    c.gpr[RCX] = o.asz32 ? uint32_t(c.gpr[RCX] - 1) : c.gpr[RCX] - 1;
    if (o.cc >= 3) {
      if (o.w2 == 1 && !c.zf()) return;  // REPE: stop on mismatch
      if (o.w2 == 2 && c.zf()) return;   // REPNE: stop on match
    }
  }
}

}  // namespace redoubt::sim::cpu::exec
