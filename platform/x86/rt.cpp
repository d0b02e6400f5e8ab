// The little C/C++ runtime that freestanding images need (no libc, no
// libstdc++): the mem*/str* functions the compiler and BearSSL call, their
// _FORTIFY_SOURCE variants (Debian builds libbearssl.a with them), and the
// C++ ABI hooks for pure virtual calls and stack-protector failures.
#include <cstddef>
#include <cstdint>

#include "platform/x86/bare_platform.hpp"

extern "C" {

// REP MOVSB / REP STOSB (DF = 0 at every call: SysV ABI §3.2.1): one instruction that CPUs
// with ERMSB run at memory speed, and that the simulated CPU moves a page at a time (the
// scrubs of guest RAM and hypervisor memory are tens of MiB: docs/hypervisor.md, bench_scrub).
void* memcpy(void* d, const void* s, size_t n) {
  void* dp = d;
  asm volatile("rep movsb" : "+D"(dp), "+S"(s), "+c"(n) : : "memory");
  return d;
}

void* memmove(void* d, const void* s, size_t n) {
  auto* dp = static_cast<unsigned char*>(d);
  auto* sp = static_cast<const unsigned char*>(s);
  if (dp < sp) {
    while (n--) *dp++ = *sp++;
  } else {
    while (n--) dp[n] = sp[n];
  }
  return d;
}

void* memset(void* d, int c, size_t n) {
  void* dp = d;
  asm volatile("rep stosb" : "+D"(dp), "+c"(n) : "a"(c) : "memory");
  return d;
}

int memcmp(const void* a, const void* b, size_t n) {
  auto* ap = static_cast<const unsigned char*>(a);
  auto* bp = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < n; ++i)
    if (ap[i] != bp[i]) return ap[i] < bp[i] ? -1 : 1;
  return 0;
}

size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

[[noreturn]] void __chk_fail(void) { redoubt::x86::fatal("buffer overflow detected (_FORTIFY_SOURCE)"); }

void* __memcpy_chk(void* d, const void* s, size_t n, size_t dn) {
  if (n > dn) __chk_fail();
  return memcpy(d, s, n);
}
void* __memmove_chk(void* d, const void* s, size_t n, size_t dn) {
  if (n > dn) __chk_fail();
  return memmove(d, s, n);
}
void* __memset_chk(void* d, int c, size_t n, size_t dn) {
  if (n > dn) __chk_fail();
  return memset(d, c, n);
}

[[noreturn]] void __stack_chk_fail(void) { redoubt::x86::fatal("stack smashing detected"); }
uintptr_t __stack_chk_guard = 0x595e9fbd94fda766ull;

[[noreturn]] void __cxa_pure_virtual(void) { redoubt::x86::fatal("pure virtual call"); }

// BearSSL's X.509 engine references time() but calls it only when no time was
// set; policy/fs/x509_chain always sets the launch policy's time (docs/pki.md §5).
// There is no trusted clock here, so a call is a bug: stop rather than guess.
[[noreturn]] long time(long*) { redoubt::x86::fatal("time() called: there is no trusted clock (use the policy time)"); }
}
