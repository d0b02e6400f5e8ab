/* Guest code for sse_gcc_test: plain C that gcc -O2 turns into SSE/SSE2 on
 * x86-64 (64-byte struct copies and memsets become MOVDQU/MOVUPS/PXOR, double
 * arithmetic becomes CVTSI2SD/MULSD/ADDSD/UCOMISD/CVTTSD2SI). Built twice: as
 * a freestanding guest ELF and into the test itself, and both must agree. */
#include <stdint.h>

struct Block64 {
  uint64_t w[8];
};

static void mix(struct Block64* b, uint64_t k) {
  for (int i = 0; i < 8; ++i) b->w[i] = (b->w[i] ^ k) * 0x9E3779B97F4A7C15ull + (uint64_t)i;
}

__attribute__((noinline)) uint64_t sse_work(uint64_t seed) {
  struct Block64 a, b, c[4];
  __builtin_memset(&a, 0, sizeof a);          /* 64-byte memset */
  __builtin_memset(c, 0x5A, sizeof c);        /* 256-byte memset */
  mix(&a, seed);
  b = a;                                      /* 64-byte struct copy */
  mix(&b, seed + 1);
  c[seed & 3] = b;
  c[(seed + 1) & 3] = a;
  uint64_t h = 0;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) h = h * 31 + c[i].w[j];
  /* scalar double arithmetic with a data-dependent compare */
  double x = (double)(int64_t)(h >> 12), acc = 0.5;
  for (int i = 0; i < 16; ++i) {
    acc = acc * 1.0000001 + x / (double)(i + 1);
    if (acc > 1e12) acc = acc / 3.0;
  }
  float f = (float)acc;
  return h ^ (uint64_t)(int64_t)acc ^ (uint64_t)(int64_t)(f * 0.25f);
}
