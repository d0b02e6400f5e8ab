/* attack_hypercall.c: modes 7 hcall, 9 flood, 14 timer (hypercall abuse and resource exhaustion). */
#include "attack.h"

/* ---- 7 hcall ---- */

static uint8_t hbuf[8192] __attribute__((aligned(4096)));

static void expect_hc(const char* what, long nr, long a, long b, long c, long want) {
  long r = hc(nr, a, b, c);
  os("hc: ");
  os(what);
  os(" = ");
  odec(r);
  if (r != want) {
    ++not_stopped;
    os(" UNEXPECTED (want ");
    odec(want);
    oc(')');
  }
  oc('\n');
}

long hcall(uint64_t victim_secret_hpa, uint64_t hv_mem, uint64_t which) {
  const struct rd_boot_info* bi = rd_boot_info();
  const long ram = (long)bi->ram_size;
  for (unsigned i = 0; i < sizeof hbuf; ++i) hbuf[i] = 'a' + i % 26;
  if (which & 1) { /* wild pointers: other guests, the hypervisor, non-canonical, unmapped, wrapping */
    expect_hc("console_write(hypervisor memory, 64)", RD_HC_CONSOLE_WRITE, (long)hv_mem, 64, 0, RD_HC_EFAULT);
    expect_hc("console_write(victim's secret, host-physical, 64)", RD_HC_CONSOLE_WRITE, (long)victim_secret_hpa, 64, 0,
              RD_HC_EFAULT);
    expect_hc("console_write(non-canonical, 16)", RD_HC_CONSOLE_WRITE, (long)0x8000000000000000ull, 16, 0, RD_HC_EFAULT);
    expect_hc("console_write(unmapped 512 GiB, 16)", RD_HC_CONSOLE_WRITE, (long)0x8000000000ull, 16, 0, RD_HC_EFAULT);
    expect_hc("console_write(2^64-8, 16) (wraps)", RD_HC_CONSOLE_WRITE, -8L, 16, 0, RD_HC_EFAULT);
    expect_hc("get_launch_info(hypervisor memory + 0x40, 80)", RD_HC_GET_LAUNCH_INFO, (long)(hv_mem + 0x40), 80, 0,
              RD_HC_EFAULT);
    expect_hc("get_launch_info(victim's secret, host-physical, 80)", RD_HC_GET_LAUNCH_INFO, (long)victim_secret_hpa, 80,
              0, RD_HC_EFAULT);
  }
  if (which & 2) { /* lengths: over the limit, huge, straddling the end of RAM */
    expect_hc("console_write(last 16 bytes of RAM, 4096)", RD_HC_CONSOLE_WRITE, ram - 16, 4096, 0, RD_HC_EFAULT);
    expect_hc("console_write(buf, 4097)", RD_HC_CONSOLE_WRITE, (long)hbuf, 4097, 0, RD_HC_EINVAL);
    expect_hc("console_write(buf, 2^63)", RD_HC_CONSOLE_WRITE, (long)hbuf, (long)(1ull << 63), 0, RD_HC_EINVAL);
    expect_hc("console_write(buf, 2^64-1)", RD_HC_CONSOLE_WRITE, (long)hbuf, -1L, 0, RD_HC_EINVAL);
    /* The part inside RAM may be written before the fault (as copy_to_user): it is the top of
     * this guest's own stack, so keep those bytes and put them back. */
    uint8_t top[64];
    memcpy(top, (const void*)(ram - 64), 64);
    expect_hc("get_launch_info(last 40 bytes of RAM, 80)", RD_HC_GET_LAUNCH_INFO, ram - 40, 80, 0, RD_HC_EFAULT);
    memcpy((void*)(ram - 64), top, 64);
    expect_hc("get_launch_info(buf, 2^64-1)", RD_HC_GET_LAUNCH_INFO, (long)hbuf, -1L, 0, 0);
    expect_hc("get_launch_info(buf, 79)", RD_HC_GET_LAUNCH_INFO, (long)hbuf, 79, 0, RD_HC_EINVAL);
  }
  if (which & 4) { /* numbers and vectors that do not exist */
    expect_hc("set_timer(vector 31)", RD_HC_SET_TIMER, 31, 1000, 0, RD_HC_EINVAL);
    expect_hc("set_timer(vector 256)", RD_HC_SET_TIMER, 256, 1000, 0, RD_HC_EINVAL);
    expect_hc("set_timer(vector 2^63)", RD_HC_SET_TIMER, (long)(1ull << 63), 1000, 0, RD_HC_EINVAL);
    expect_hc("hypercall 0", 0, 0, 0, 0, RD_HC_ENOSYS);
    expect_hc("hypercall 6", 6, 0, 0, 0, RD_HC_ENOSYS);
    expect_hc("hypercall 0x10000", 0x10000, 0, 0, 0, RD_HC_ENOSYS);
    expect_hc("hypercall 2^63", (long)(1ull << 63), 0, 0, 0, RD_HC_ENOSYS);
    expect_hc("hypercall 2^64-1", -1L, 0, 0, 0, RD_HC_ENOSYS);
  }
  os("hc: ");
  odec(not_stopped);
  os(" unexpected results\n");
  return not_stopped;
}

/* ---- 9 flood ---- */

long flood(uint64_t how) {
  os("flood: starting\n");
  if (how == 0) out_flood();
  for (unsigned i = 0; i < 4096; ++i) hbuf[i] = 'F';
  for (;;) hc(RD_HC_CONSOLE_WRITE, (long)hbuf, 4096, 0);
  return 1;
}

/* ---- 14 timer ---- */

long timer(void) {
  set_gate(0x30, isr_iret);
  load_own_idt();
  /* Each would make the hypervisor's deadline arithmetic wrap: a deadline in the past that a
   * period of 2^64-1 moves back by one tick per step (an endless loop in the host). */
  expect_hc("set_timer(0x30, 1000, period 2^64-1)", RD_HC_SET_TIMER, 0x30, 1000, -1L, RD_HC_EINVAL);
  expect_hc("set_timer(0x30, 2^64-1, 0)", RD_HC_SET_TIMER, 0x30, -1L, 0, RD_HC_EINVAL);
  expect_hc("set_timer(0x30, 2^63, 2^63)", RD_HC_SET_TIMER, 0x30, (long)(1ull << 63), (long)(1ull << 63), RD_HC_EINVAL);
  expect_hc("set_timer(0x30, 1000, 2^62)", RD_HC_SET_TIMER, 0x30, 1000, (long)(1ull << 62), RD_HC_EINVAL);
  __asm__ volatile("sti");
  for (volatile unsigned i = 0; i < 20000; ++i) {
  }
  __asm__ volatile("cli");
  os("timer: ");
  odec(not_stopped);
  os(" accepted; still running\n");
  return not_stopped;
}

