// Host SSE/SSE2 thunks (see host_sse.hpp). Each is one instruction between
// loads and stores of xmm0/xmm1; floating-point ones swap the MXCSR in and out.
#include "platform/sim/cpu/host_sse.hpp"

#if !defined(__x86_64__)
#error "the SSE model executes SSE instructions on the host: x86-64 hosts only"
#endif

namespace redoubt::sim::cpu::host {

#define RD_INT_BODY(insn)                                                             \
  asm("movdqa %[d], %%xmm0\n\t"                                                       \
      "movdqa %[s], %%xmm1\n\t" insn " %%xmm1, %%xmm0\n\t"                            \
      "movdqa %%xmm0, %[d]"                                                           \
      : [d] "+m"(d)                                                                   \
      : [s] "m"(s)                                                                    \
      : "xmm0", "xmm1");                                                              \
  (void)m;

#define RD_FP_BODY(insn)                                                              \
  uint32_t h;                                                                         \
  asm volatile("stmxcsr %[h]\n\t"                                                     \
               "ldmxcsr %[m]\n\t"                                                     \
               "movdqa %[d], %%xmm0\n\t"                                              \
               "movdqa %[s], %%xmm1\n\t" insn "\n\t"                                  \
               "movdqa %%xmm0, %[d]\n\t"                                              \
               "stmxcsr %[m]\n\t"                                                     \
               "ldmxcsr %[h]"                                                         \
               : [d] "+m"(d), [m] "+m"(m), [h] "=m"(h)                                \
               : [s] "m"(s)                                                           \
               : "xmm0", "xmm1");

#define RD_DEF_INT(n, M) \
  void n(Xmm& d, const Xmm& s, uint32_t& m) { RD_INT_BODY(#n) }
RD_SSE_INT_OPS(RD_DEF_INT)
#undef RD_DEF_INT

#define RD_DEF_FP(n, M) \
  void n(Xmm& d, const Xmm& s, uint32_t& m) { RD_FP_BODY(#n " %%xmm1, %%xmm0") }
RD_SSE_FP_OPS(RD_DEF_FP)
#undef RD_DEF_FP

#define RD_DEF_TO_GPR(n, M)                                                           \
  uint64_t n##_32(const Xmm& s, uint32_t& m) {                                        \
    uint32_t h, r;                                                                    \
    asm volatile("stmxcsr %[h]\n\t ldmxcsr %[m]\n\t movdqa %[s], %%xmm1\n\t" #n       \
                 " %%xmm1, %k[r]\n\t stmxcsr %[m]\n\t ldmxcsr %[h]"                   \
                 : [r] "=r"(r), [m] "+m"(m), [h] "=m"(h)                              \
                 : [s] "m"(s)                                                         \
                 : "xmm1");                                                           \
    return r;                                                                         \
  }                                                                                   \
  uint64_t n##_64(const Xmm& s, uint32_t& m) {                                        \
    uint32_t h;                                                                       \
    uint64_t r;                                                                       \
    asm volatile("stmxcsr %[h]\n\t ldmxcsr %[m]\n\t movdqa %[s], %%xmm1\n\t" #n       \
                 " %%xmm1, %q[r]\n\t stmxcsr %[m]\n\t ldmxcsr %[h]"                   \
                 : [r] "=r"(r), [m] "+m"(m), [h] "=m"(h)                              \
                 : [s] "m"(s)                                                         \
                 : "xmm1");                                                           \
    return r;                                                                         \
  }
RD_SSE_TO_GPR_OPS(RD_DEF_TO_GPR)
#undef RD_DEF_TO_GPR

#define RD_DEF_MSK(n)                                                                      \
  uint64_t n(const Xmm& s, uint32_t& m) {                                                  \
    uint32_t r;                                                                            \
    asm("movdqa %[s], %%xmm1\n\t" #n " %%xmm1, %k[r]" : [r] "=r"(r) : [s] "m"(s) : "xmm1"); \
    (void)m;                                                                               \
    return r;                                                                              \
  }
RD_DEF_MSK(movmskps)
RD_DEF_MSK(movmskpd)
RD_DEF_MSK(pmovmskb)
#undef RD_DEF_MSK

#define RD_DEF_FROM_GPR(n, suffix, mod, T)                                           \
  void n(Xmm& d, uint64_t g, uint32_t& m) {                                          \
    uint32_t h;                                                                      \
    const T v = T(g);                                                                \
    asm volatile("stmxcsr %[h]\n\t ldmxcsr %[m]\n\t movdqa %[d], %%xmm0\n\t" suffix \
                 " %" mod "[g], %%xmm0\n\t movdqa %%xmm0, %[d]\n\t"                 \
                 "stmxcsr %[m]\n\t ldmxcsr %[h]"                                     \
                 : [d] "+m"(d), [m] "+m"(m), [h] "=m"(h)                             \
                 : [g] "r"(v)                                                        \
                 : "xmm0");                                                          \
  }
RD_DEF_FROM_GPR(cvtsi2ss_32, "cvtsi2ssl", "k", uint32_t)
RD_DEF_FROM_GPR(cvtsi2ss_64, "cvtsi2ssq", "q", uint64_t)
RD_DEF_FROM_GPR(cvtsi2sd_32, "cvtsi2sdl", "k", uint32_t)
RD_DEF_FROM_GPR(cvtsi2sd_64, "cvtsi2sdq", "q", uint64_t)
#undef RD_DEF_FROM_GPR

// LAHF gives SF ZF AF PF CF in AH; SETO adds OF (COMIS* clears OF SF AF: APM vol. 4 COMISS).
#define RD_DEF_COMI(n)                                                                        \
  uint64_t n(const Xmm& d, const Xmm& s, uint32_t& m) {                                       \
    uint32_t h;                                                                               \
    uint64_t ax;                                                                              \
    asm volatile("stmxcsr %[h]\n\t ldmxcsr %[m]\n\t movdqa %[d], %%xmm0\n\t"                  \
                 "movdqa %[s], %%xmm1\n\t" #n " %%xmm1, %%xmm0\n\t"                           \
                 "lahf\n\t seto %%al\n\t stmxcsr %[m]\n\t ldmxcsr %[h]"                       \
                 : "=a"(ax), [m] "+m"(m), [h] "=m"(h)                                         \
                 : [d] "m"(d), [s] "m"(s)                                                     \
                 : "xmm0", "xmm1", "cc");                                                     \
    return ((ax >> 8) & 0xD5) | ((ax & 0xFF) ? 0x800 : 0);                                    \
  }
RD_DEF_COMI(comiss)
RD_DEF_COMI(ucomiss)
RD_DEF_COMI(comisd)
RD_DEF_COMI(ucomisd)
#undef RD_DEF_COMI

namespace {
#define RD_DEF_CMP(n)                                                                     \
  template <int P> void n##_p(Xmm& d, const Xmm& s, uint32_t& m) {                        \
    uint32_t h;                                                                           \
    asm volatile("stmxcsr %[h]\n\t ldmxcsr %[m]\n\t movdqa %[d], %%xmm0\n\t"              \
                 "movdqa %[s], %%xmm1\n\t" #n " $%c[p], %%xmm1, %%xmm0\n\t"               \
                 "movdqa %%xmm0, %[d]\n\t stmxcsr %[m]\n\t ldmxcsr %[h]"                  \
                 : [d] "+m"(d), [m] "+m"(m), [h] "=m"(h)                                  \
                 : [s] "m"(s), [p] "i"(P)                                                 \
                 : "xmm0", "xmm1");                                                       \
  }                                                                                       \
  constexpr XThunk n##_tab[8] = {n##_p<0>, n##_p<1>, n##_p<2>, n##_p<3>,                  \
                                 n##_p<4>, n##_p<5>, n##_p<6>, n##_p<7>};
RD_DEF_CMP(cmpps)
RD_DEF_CMP(cmpss)
RD_DEF_CMP(cmppd)
RD_DEF_CMP(cmpsd)
#undef RD_DEF_CMP
}  // namespace

// Legacy-SSE CMPcc uses imm8[2:0]; bits 7:3 are ignored (APM vol. 4 CMPPS).
XThunk cmpps(unsigned p) { return cmpps_tab[p & 7]; }
XThunk cmpss(unsigned p) { return cmpss_tab[p & 7]; }
XThunk cmppd(unsigned p) { return cmppd_tab[p & 7]; }
XThunk cmpsd(unsigned p) { return cmpsd_tab[p & 7]; }

}  // namespace redoubt::sim::cpu::host
