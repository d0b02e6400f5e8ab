/* hvbench: micro-benchmark guest for bench_hv. args[0] = mode, args[1] = N.
 *   mode 0: N VMMCALLs (an unknown hypercall: -ENOSYS round trip)
 *   mode 1: N loads from an unmapped guest-physical address (#NPF, policy
 *           "inject without limit"), each skipped by the guest's #PF handler
 *   mode 2: N CPUIDs */
#include "redoubt.h"

extern void npf_loop(uint64_t addr, uint64_t n);
extern void isr_skip_pf(void);

struct gate {
  uint16_t off0, sel;
  uint8_t ist, type;
  uint16_t off1;
  uint32_t off2, zero;
};
static struct gate idt[256] __attribute__((aligned(16)));

long guest_main(void) {
  const struct rd_boot_info* bi = rd_boot_info();
  uint64_t mode = bi->args[0], n = bi->args[1] ? bi->args[1] : 1000;
  uint64_t t0 = rd_rdtsc();
  if (mode == 0) {
    for (uint64_t i = 0; i < n; ++i) rd_hypercall(1000, 0, 0, 0);
  } else if (mode == 1) {
    uint64_t a = (uint64_t)isr_skip_pf;
    idt[14].off0 = (uint16_t)a;
    idt[14].sel = RD_KERNEL_CS;
    idt[14].type = 0x8E;
    idt[14].off1 = (uint16_t)(a >> 16);
    idt[14].off2 = (uint32_t)(a >> 32);
    struct __attribute__((packed)) {
      uint16_t limit;
      uint64_t base;
    } idtr = {sizeof idt - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr));
    npf_loop(0x80000000ull, n);
  } else {
    uint32_t r[4];
    for (uint64_t i = 0; i < n; ++i) rd_cpuid(0, 0, r);
  }
  uint64_t t1 = rd_rdtsc();
  printf("hvbench: mode %lu, %lu iterations, %lu guest TSC ticks\n", (unsigned long)mode, (unsigned long)n,
         (unsigned long)(t1 - t0));
  return 0;
}
