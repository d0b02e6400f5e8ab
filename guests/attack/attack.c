/* attack: the hostile guest of `redoubt attack` (tools/attacks/, docs/isolation.md).
 * args[0] picks the attack; the scenario that runs it gives the targets in
 * args[1..3] or in the signed command line, and judges the outcome itself from
 * the run record, the machine's memory and this guest's serial output.
 *
 *   1 victim   fills a secret page at guest-physical 0x300000 (xorshift64 from args[1]),
 *              sleeps until the others stopped, checks the page, exits 0 (intact) / 1
 *   2 peek     memory / MMIO accesses from the command line ("r:ADDR", "w:ADDR",
 *              "d:ADDR" read + dump the page, "OP:ADDR:COUNT:STRIDE" sweeps)
 *   3 svm      one SVM / cache instruction (args[1]: 0 VMRUN .. 8 WBINVD, RAX = args[2])
 *   4 msr      RDMSR/WRMSR of host-only MSRs (EFER.SVME, VM_CR, VM_HSAVE_PA, SYSCFG, ...)
 *   5 cr       control-register writes the CPU must refuse, then WBINVD and INVD
 *   6 io       port I/O to PCI config (the DEV), COM2, reset ports, the power-off port
 *   7 hcall    hypercalls (args[3] mask: 1 wild pointers, 2 huge lengths, 4 unknown numbers/vectors)
 *   8 loop     an infinite loop with interrupts off and no exit
 *   9 flood    serial flood (args[1] = 0: OUT to the THR, 1: 4 KiB console_write hypercalls)
 *  10 ptbomb   self-referencing page tables and a 1 GiB 4 KiB-page mapping, walked everywhere
 *  11 exc      exception storm (args[1] = 0: UD2 with no IDT, 1: IDT outside RAM)
 *  12 tpm      the TPM's TIS MMIO at localities 0-4 (args[1] mask): request use, PCR_Extend, HASH_START
 *  13 cr3      CR3 = a host-physical address outside its RAM (args[1]), then a memory access
 *  14 timer    set_timer with a period / delay that overflow the TSC arithmetic
 * Exit code: the number of attempts that were not stopped (0 = contained). */
#include "redoubt.h"

extern uint64_t t_fault_vector, t_fault_cr2, t_fault_err;
extern uint64_t t_read64(uint64_t a, uint64_t* out);
extern uint64_t t_write64(uint64_t a, uint64_t v);
extern uint64_t t_write_marker(uint64_t a);
extern uint64_t t_read32(uint64_t a, uint32_t* out);
extern uint64_t t_write32(uint64_t a, uint32_t v);
extern uint64_t t_read8(uint64_t a, uint8_t* out);
extern uint64_t t_write8(uint64_t a, uint8_t v);
extern uint64_t t_rdmsr(uint32_t msr, uint64_t* out);
extern uint64_t t_wrmsr(uint32_t msr, uint64_t v);
extern uint64_t t_rdcr(unsigned which);
extern uint64_t t_wrcr0(uint64_t v);
extern uint64_t t_wrcr3(uint64_t v);
extern uint64_t t_wrcr4(uint64_t v);
extern uint64_t t_svm(unsigned which, uint64_t rax);
extern void isr_pf(void), isr_gp(void), isr_ud(void), isr_iret(void);
extern void loop_forever(void), out_flood(void), ud_storm(void);

#define SECRET_GPA 0x300000ull
#define SECRET_BYTES 4096u
/* What the attacker writes: 0xA77AC4EDA77AC4ED (t_write_marker); the scenario scans memory for it. */

/* ---- output through the console hypercall (one exit per line, not two per byte) ---- */

static char obuf[512];
static unsigned olen;

static long hc(long nr, long a, long b, long c) { return rd_hypercall(nr, a, b, c); }
static void oflush(void) {
  if (olen) hc(RD_HC_CONSOLE_WRITE, (long)obuf, olen, 0);
  olen = 0;
}
static void oc(char c) {
  if (olen == sizeof obuf) oflush();
  obuf[olen++] = c;
  if (c == '\n') oflush();
}
static void os(const char* s) {
  while (*s) oc(*s++);
}
static void ohex(uint64_t v) {
  char b[18];
  int n = 0;
  do {
    unsigned d = v & 15;
    b[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    v >>= 4;
  } while (v);
  os("0x");
  while (n) oc(b[--n]);
}
static void odec(int64_t v) {
  char b[24];
  int n = 0;
  uint64_t u = v < 0 ? (uint64_t)-v : (uint64_t)v;
  if (v < 0) oc('-');
  do {
    b[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  while (n) oc(b[--n]);
}
static const char* fault_name(uint64_t f) {
  switch (f) {
    case 0: return "ok";
    case 7: return "#UD";
    case 14: return "#GP";
    case 15: return "#PF";
  }
  return "fault";
}

/* ---- IDT ---- */

struct gate {
  uint16_t off0, sel;
  uint8_t ist, type;
  uint16_t off1;
  uint32_t off2, zero;
};
static struct gate idt[256] __attribute__((aligned(16)));

static void set_gate(unsigned v, void (*fn)(void)) {
  uint64_t a = (uint64_t)fn;
  idt[v].off0 = (uint16_t)a;
  idt[v].sel = RD_KERNEL_CS;
  idt[v].type = 0x8E;
  idt[v].off1 = (uint16_t)(a >> 16);
  idt[v].off2 = (uint32_t)(a >> 32);
}
static void load_idt(uint64_t base, uint16_t limit) {
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } idtr = {limit, base};
  __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* ---- helpers ---- */

static uint64_t xorshift(uint64_t* x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static unsigned not_stopped;

/* A number from the command line: 0x hex or decimal; *p advances. */
static uint64_t num(const char** p) {
  const char* s = *p;
  uint64_t v = 0;
  if (s[0] == '0' && s[1] == 'x') {
    s += 2;
    for (;; ++s) {
      char c = *s;
      unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 99;
      if (d == 99) break;
      v = v * 16 + d;
    }
  } else {
    for (; *s >= '0' && *s <= '9'; ++s) v = v * 10 + (uint64_t)(*s - '0');
  }
  *p = s;
  return v;
}

/* ---- 1 victim ---- */

static long victim(uint64_t seed, uint64_t sleep_ticks) {
  uint8_t* s = (uint8_t*)SECRET_GPA;
  uint64_t x = seed;
  for (unsigned i = 0; i < SECRET_BYTES; i += 8) {
    uint64_t v = xorshift(&x);
    memcpy(s + i, &v, 8);
  }
  os("victim: secret set at ");
  ohex(SECRET_GPA);
  os(", sleeping\n");
  set_gate(0x30, isr_iret);
  load_idt((uint64_t)idt, sizeof idt - 1);
  hc(RD_HC_SET_TIMER, 0x30, (long)(sleep_ticks ? sleep_ticks : 1000000000000ull), 0);
  __asm__ volatile("sti; hlt; cli");
  x = seed;
  unsigned bad = 0;
  for (unsigned i = 0; i < SECRET_BYTES; i += 8) {
    uint64_t v = xorshift(&x), got;
    memcpy(&got, s + i, 8);
    if (got != v) ++bad;
  }
  os(bad ? "victim: secret CHANGED in " : "victim: secret intact (");
  odec(bad);
  os(bad ? " words\n" : " words changed)\n");
  return bad ? 1 : 0;
}

/* ---- 2 peek ---- */

static unsigned dumps;
static uint8_t page[4096];

static void dump(uint64_t a) {
  /* The page as read, raw, framed: the scenario hashes it against what it protects. */
  a &= ~0xFFFull;
  for (unsigned i = 0; i < 4096; i += 8) {
    uint64_t v = 0;
    if (t_read64(a + i, &v)) v = 0;
    memcpy(page + i, &v, 8);
  }
  os("peek: dump ");
  ohex(a);
  os(" <<");
  oflush();
  hc(RD_HC_CONSOLE_WRITE, (long)page, 4096, 0);
  os(">>\n");
}

static void peek_one(char op, uint64_t a, int verbose) {
  uint64_t f, v = 0;
  if (op == 'w') f = t_write_marker(a);
  else f = t_read64(a, &v);
  if (!f) ++not_stopped;
  if (verbose || !f) {
    os("peek: ");
    oc(op);
    oc(' ');
    ohex(a);
    if (f) {
      os(": stopped (");
      os(fault_name(f));
      os(")\n");
    } else {
      os(": NOT STOPPED");
      if (op != 'w') {
        os(" value ");
        ohex(v);
      }
      oc('\n');
      if (op == 'd' && dumps < 8) {
        ++dumps;
        dump(a);
      }
    }
  }
}

static long peek(void) {
  const struct rd_boot_info* bi = rd_boot_info();
  const char* p = (const char*)bi->cmdline_gpa;
  unsigned total = 0;
  while (*p) {
    while (*p == ' ') ++p;
    char op = *p;
    if (!op) break;
    if ((op != 'r' && op != 'w' && op != 'd') || p[1] != ':') {
      while (*p && *p != ' ') ++p;
      continue;
    }
    p += 2;
    uint64_t a = num(&p), count = 1, stride = 0x1000;
    if (*p == ':') {
      ++p;
      count = num(&p);
      if (*p == ':') {
        ++p;
        stride = num(&p);
      }
    }
    for (uint64_t i = 0; i < count; ++i, ++total) peek_one(op, a + i * stride, count <= 16);
  }
  os("peek: ");
  odec(total);
  os(" attempts, ");
  odec(total - not_stopped);
  os(" stopped, ");
  odec(not_stopped);
  os(" not stopped\n");
  return not_stopped;
}

/* ---- 3 svm ---- */

static const char* const kSvmNames[] = {"VMRUN", "VMLOAD", "VMSAVE", "CLGI", "STGI", "SKINIT", "INVLPGA", "INVD", "WBINVD"};

static long svm(unsigned which, uint64_t rax) {
  if (which > 8) return 100;
  os("svm: executing ");
  os(kSvmNames[which]);
  os(" with RAX ");
  ohex(rax);
  oc('\n');
  uint64_t f = t_svm(which, rax);
  os("svm: ");
  os(kSvmNames[which]);
  os(" returned to the guest: ");
  os(fault_name(f));
  oc('\n');
  return which == 8 ? 0 : 1; /* only WBINVD may come back */
}

/* ---- 4 msr ---- */

static void expect_msr(const char* what, int write, uint32_t msr, uint64_t value, int want_gp) {
  uint64_t v = 0, f = write ? t_wrmsr(msr, value) : t_rdmsr(msr, &v);
  os("msr: ");
  os(write ? "WRMSR " : "RDMSR ");
  ohex(msr);
  oc(' ');
  os(what);
  if (write) {
    oc('=');
    ohex(value);
  }
  os(": ");
  os(f ? fault_name(f) : "accepted");
  if (!f && !write) {
    os(" value ");
    ohex(v);
  }
  if ((f == 14) != (want_gp != 0)) {
    ++not_stopped;
    os(" UNEXPECTED");
  }
  oc('\n');
}

static long msr(uint64_t hv_mem) {
  uint64_t efer = 0;
  t_rdmsr(0xC0000080u, &efer);
  os("msr: EFER reads ");
  ohex(efer);
  os((efer & (1u << 12)) ? " (SVME VISIBLE)\n" : " (SVME hidden)\n");
  if (efer & (1u << 12)) ++not_stopped;
  expect_msr("EFER (set SVME)", 1, 0xC0000080u, efer | (1u << 12), 1);
  expect_msr("EFER (clear LME, paging on)", 1, 0xC0000080u, efer & ~(1ull << 8), 1);
  expect_msr("EFER (set LMSLE/FFXSR/TCE)", 1, 0xC0000080u, efer | (1u << 13) | (1u << 14) | (1u << 15), 1);
  expect_msr("EFER (unchanged)", 1, 0xC0000080u, efer, 0);
  expect_msr("VM_CR", 0, 0xC0010114u, 0, 1);
  expect_msr("VM_CR (clear SVMDIS/LOCK)", 1, 0xC0010114u, 0, 1);
  expect_msr("VM_HSAVE_PA", 0, 0xC0010117u, 0, 1);
  expect_msr("VM_HSAVE_PA (point at hypervisor memory)", 1, 0xC0010117u, hv_mem, 1);
  expect_msr("SYSCFG", 0, 0xC0010010u, 0, 1);
  expect_msr("SYSCFG (MtrrFixDramModEn, SMEE)", 1, 0xC0010010u, (1u << 19) | (1u << 23), 1);
  expect_msr("HWCR", 1, 0xC0010015u, 0, 1);
  expect_msr("SMM_ADDR", 1, 0xC0010112u, hv_mem, 1);
  expect_msr("SMM_MASK", 1, 0xC0010113u, 0, 1);
  expect_msr("IGNNE", 1, 0xC0010115u, 1, 1);
  expect_msr("SVM_KEY", 1, 0xC0010118u, 0x1234, 1);
  expect_msr("TSC", 1, 0x10u, 0, 1);
  expect_msr("APIC_BASE (move the APIC)", 1, 0x1Bu, 0xFED40900ull, 1);
  expect_msr("MTRR_DEF_TYPE", 1, 0x2FFu, 0x806, 1);
  expect_msr("DEBUGCTL", 1, 0x1D9u, 1, 1);
  expect_msr("LSTAR", 1, 0xC0000082u, hv_mem, 1);
  expect_msr("0x40000000 (hypervisor range)", 0, 0x40000000u, 0, 1);
  expect_msr("0xFFFFFFFF", 1, 0xFFFFFFFFu, 0, 1);
  t_rdmsr(0xC0000080u, &efer);
  os("msr: EFER after the attempts ");
  ohex(efer);
  oc('\n');
  os("msr: ");
  odec(not_stopped);
  os(" not refused\n");
  return not_stopped;
}

/* ---- 5 cr ---- */

static void expect_cr(const char* what, unsigned which, uint64_t value, int want_gp) {
  uint64_t f = which == 0 ? t_wrcr0(value) : t_wrcr4(value);
  os("cr: MOV CR");
  odec(which);
  os(" = ");
  ohex(value);
  oc(' ');
  os(what);
  os(": ");
  os(fault_name(f));
  if ((f == 14) != (want_gp != 0)) {
    ++not_stopped;
    os(" UNEXPECTED");
  }
  oc('\n');
}

static long cr(void) {
  const uint64_t cr0 = t_rdcr(0), cr4 = t_rdcr(4);
  expect_cr("(clear PG in 64-bit mode)", 0, cr0 & ~(1ull << 31), 1);
  expect_cr("(clear PE, PG on)", 0, cr0 & ~1ull, 1);
  expect_cr("(NW without CD)", 0, cr0 | (1ull << 29), 1);
  expect_cr("(reserved bit 63)", 0, cr0 | (1ull << 63), 1);
  expect_cr("(clear PAE in long mode)", 4, cr4 & ~(1ull << 5), 1);
  expect_cr("(reserved bit 63)", 4, cr4 | (1ull << 63), 1);
  expect_cr("(VMXE: no VMX on AMD)", 4, cr4 | (1ull << 13), 1);
  os("cr: CR0 ");
  ohex(t_rdcr(0));
  os(" CR4 ");
  ohex(t_rdcr(4));
  os(" after the attempts\n");
  if (t_rdcr(0) != cr0 || t_rdcr(4) != cr4) ++not_stopped;
  t_svm(8, 0);
  os("cr: WBINVD returned (not intercepted: it only writes back caches)\n");
  os("cr: INVD next (would drop dirty cache lines: intercepted)\n");
  t_svm(7, 0);
  os("cr: INVD returned to the guest\n");
  return 1 + not_stopped;
}

/* ---- 6 io ---- */

static uint32_t inl(uint16_t port) {
  uint32_t v;
  __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static uint32_t pci_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg) {
  return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xFC);
}

static long io(void) {
  outl(0xCF8, pci_addr(0, 0, 0, 0));
  uint32_t id = inl(0xCFC);
  os("io: PCI 00:00.0 vendor/device = ");
  ohex(id);
  oc('\n');
  if (id != 0xFFFFFFFFu) ++not_stopped;
  outl(0xCF8, pci_addr(0, 0x18, 3, 0xF0));
  uint32_t cap = inl(0xCFC);
  os("io: PCI 00:18.3 DEV capability = ");
  ohex(cap);
  oc('\n');
  if (cap != 0xFFFFFFFFu) ++not_stopped;
  /* DEV_OP = DEV_CR, DEV_DATA = 0: turn the Device Exclusion Vector off. */
  outl(0xCF8, pci_addr(0, 0x18, 3, 0xF4));
  outl(0xCFC, 4u << 8);
  outl(0xCF8, pci_addr(0, 0x18, 3, 0xF8));
  outl(0xCFC, 0);
  os("io: wrote DEV_CR = 0 through PCI config\n");
  /* COM2: the harness channel of the measured images. */
  const char* fake = "RDBT-FAKE-VERDICT\n";
  for (const char* c = fake; *c; ++c) rd_outb(0x2F8, (uint8_t)*c);
  os("io: wrote a fake record to COM2 (0x2F8)\n");
  rd_outb(0xCF9, 0x06);
  rd_outb(0x64, 0xFE);
  rd_outb(0x92, 0x01);
  os("io: wrote the reset ports 0xCF9, 0x64, 0x92\n");
  os("io: writing 0 (\"ok\") to the power-off port 0xF4\n");
  rd_outb(0xF4, 0x00);
  os("io: still running after the power-off port\n");
  os("io: ");
  odec(not_stopped);
  os(" reads not refused\n");
  return not_stopped;
}

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

static long hcall(uint64_t victim_secret_hpa, uint64_t hv_mem, uint64_t which) {
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

static long flood(uint64_t how) {
  os("flood: starting\n");
  if (how == 0) out_flood();
  for (unsigned i = 0; i < 4096; ++i) hbuf[i] = 'F';
  for (;;) hc(RD_HC_CONSOLE_WRITE, (long)hbuf, 4096, 0);
  return 1;
}

/* ---- 10 ptbomb ---- */

#define PT_BASE 0x200000ull /* 2 MiB of guest RAM for tables: [2 MiB, 3 MiB + 8 KiB) */

static long ptbomb(void) {
  uint64_t* pml4 = (uint64_t*)PT_BASE;
  uint64_t* pdpt = (uint64_t*)(PT_BASE + 0x1000);
  uint64_t* pd = (uint64_t*)(PT_BASE + 0x2000);
  uint64_t* pts = (uint64_t*)(PT_BASE + 0x3000); /* 128 page tables: 256 MiB of 4 KiB pages */
  const uint64_t* boot = (const uint64_t*)RD_PML4_GPA;
  memset(pml4, 0, 0x3000);
  pml4[0] = boot[0]; /* keep the identity map of [0, 4 GiB) for code, data and stack */
  for (unsigned i = 2; i < 512; ++i) pml4[i] = PT_BASE | 3; /* every other slot: the PML4 itself */
  pml4[1] = (PT_BASE + 0x1000) | 3;                          /* 512 GiB..: 256 MiB of 4 KiB pages */
  pdpt[0] = (PT_BASE + 0x2000) | 3;
  for (unsigned i = 0; i < 128; ++i) {
    pd[i] = ((uint64_t)(pts + 512 * i)) | 3;
    for (unsigned j = 0; j < 512; ++j) pts[512 * i + j] = SECRET_GPA | 3; /* all 65536 pages -> one frame */
  }
  uint64_t old = t_rdcr(3);
  t_wrcr3(PT_BASE);
  uint64_t sum = 0, walks = 0, v;
  /* Every 4 KiB page of the 256 MiB window (65536 TLB misses), then the recursive slots. */
  for (uint64_t a = 0x8000000000ull; a < 0x8000000000ull + (256ull << 20); a += 4096, ++walks) {
    if (t_read64(a, &v)) break;
    sum += v;
  }
  for (uint64_t i = 2; i < 512; ++i, ++walks) {
    uint64_t va = i << 39 | i << 30 | i << 21 | i << 12; /* PML4 -> PML4 -> PML4 -> PML4 -> the PML4 page */
    if (va & (1ull << 47)) va |= 0xFFFF000000000000ull;
    if (t_read64(va, &v)) break;
    sum += v;
  }
  t_wrcr3(old);
  os("ptbomb: ");
  odec((int64_t)walks);
  os(" walks through 129 guest tables, checksum ");
  ohex(sum);
  oc('\n');
  return 0;
}

/* ---- 11 exc ---- */

static long exc(uint64_t how) {
  os(how ? "exc: IDT outside RAM, then UD2\n" : "exc: no IDT, UD2 forever\n");
  if (how) {
    load_idt(0x7FF00000ull, 0xFFF);
    __asm__ volatile("ud2");
  }
  ud_storm();
  return 1;
}

/* ---- 12 tpm ---- */

static unsigned tpm_reached;

/* One MMIO byte access; a stop ends this locality's attempt. */
static int mb(uint64_t a, int write, uint8_t v, uint8_t* out) {
  uint64_t f = write ? t_write8(a, v) : t_read8(a, out);
  if (f) return 0;
  ++tpm_reached;
  return 1;
}

static void tpm_locality(unsigned l, unsigned pcr) {
  const uint64_t base = 0xFED40000ull + 0x1000ull * l;
  uint8_t v = 0;
  os("tpm: locality ");
  odec(l);
  os(" at ");
  ohex(base);
  if (!mb(base + 0x00, 0, 0, &v)) {
    os(": TPM_ACCESS read stopped\n");
    return;
  }
  os(": TPM_ACCESS = ");
  ohex(v);
  if (!mb(base + 0x00, 1, 0x02, 0)) { /* requestUse */
    os(", requestUse stopped\n");
    return;
  }
  for (unsigned i = 0; i < 1000 && mb(base, 0, 0, &v) && !(v & 0x20); ++i) {
  }
  os(v & 0x20 ? ", locality active" : ", locality NOT granted");
  /* TPM2_PCR_Extend(pcr, sha256 = 0xAA..): the password session of an empty auth. */
  uint8_t cmd[65] = {0x80, 0x02, 0, 0, 0, 65, 0, 0, 0x01, 0x82, 0, 0, 0, (uint8_t)pcr, 0, 0, 0, 9,
                     0x40, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x0B};
  for (unsigned i = 33; i < 65; ++i) cmd[i] = 0xAA;
  mb(base + 0x18, 1, 0x40, 0); /* commandReady */
  for (unsigned i = 0; i < sizeof cmd; ++i) mb(base + 0x24, 1, cmd[i], 0);
  mb(base + 0x18, 1, 0x20, 0); /* tpmGo */
  uint8_t sts = 0, rsp[10] = {0};
  for (unsigned i = 0; i < 100000 && mb(base + 0x18, 0, 0, &sts) && !(sts & 0x10); ++i) {
  }
  for (unsigned i = 0; i < 10 && (sts & 0x10); ++i) mb(base + 0x24, 0, 0, &rsp[i]);
  uint32_t rc = (uint32_t)rsp[6] << 24 | (uint32_t)rsp[7] << 16 | (uint32_t)rsp[8] << 8 | rsp[9];
  os(", PCR_Extend(");
  odec(pcr);
  os(") response code ");
  ohex(rc);
  if (l == 4) { /* the DRTM sequence: _TPM_Hash_Start / Data / End */
    mb(base + 0x28, 1, 0, 0);
    mb(base + 0x24, 1, 0x41, 0);
    mb(base + 0x20, 1, 0, 0);
    os(", HASH_START/DATA/END written");
  }
  mb(base, 1, 0x20, 0); /* relinquish */
  oc('\n');
}

static long tpm(uint64_t mask) {
  static const unsigned pcr[5] = {17, 18, 19, 20, 17};
  for (unsigned l = 0; l < 5; ++l)
    if (mask & (1u << l)) tpm_locality(l, pcr[l]);
  os("tpm: ");
  odec(tpm_reached);
  os(" TIS register accesses reached the TPM\n");
  return tpm_reached;
}

/* ---- 13 cr3 ---- */

static long cr3(uint64_t target) {
  os("cr3: CR3 = ");
  ohex(target);
  os(" (outside this guest's RAM), then a load\n");
  oflush();
  t_wrcr3(target);
  uint64_t v = 0;
  uint64_t f = t_read64(0x180000, &v); /* a new translation: the walk reads the "PML4" at target */
  os("cr3: the load came back: ");
  os(fault_name(f));
  os(" value ");
  ohex(v);
  oc('\n');
  return 1;
}

/* ---- 14 timer ---- */

static long timer(void) {
  set_gate(0x30, isr_iret);
  load_idt((uint64_t)idt, sizeof idt - 1);
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

long guest_main(void) {
  const struct rd_boot_info* bi = rd_boot_info();
  set_gate(6, isr_ud);
  set_gate(13, isr_gp);
  set_gate(14, isr_pf);
  load_idt((uint64_t)idt, sizeof idt - 1);
  long r;
  switch (bi->args[0]) {
    case 1: r = victim(bi->args[1], bi->args[2]); break;
    case 2: r = peek(); break;
    case 3: r = svm((unsigned)bi->args[1], bi->args[2]); break;
    case 4: r = msr(bi->args[1]); break;
    case 5: r = cr(); break;
    case 6: r = io(); break;
    case 7: r = hcall(bi->args[1], bi->args[2], bi->args[3] ? bi->args[3] : 7); break;
    case 8: os("loop: interrupts off, jmp $\n"); oflush(); loop_forever(); r = 1; break;
    case 9: r = flood(bi->args[1]); break;
    case 10: r = ptbomb(); break;
    case 11: r = exc(bi->args[1]); break;
    case 12: r = tpm(bi->args[1] ? bi->args[1] : 0x1F); break;
    case 13: r = cr3(bi->args[1]); break;
    case 14: r = timer(); break;
    default: os("attack: unknown mode\n"); r = 100;
  }
  oflush();
  return r;
}
