/* hvattack: attacks on the hypervisor's guest isolation and robustness
 * (docs/hypervisor.md, "What is switched", "Budget"). args[0] = mode:
 *   1 victim: sets every guest-visible register it can reach to a secret, yields,
 *     and checks that each still holds its secret when it runs again;
 *   2 spy: run after the victim's yield, reads each of those registers and
 *     prints "spy: NAME=0x..." (its own initial value expected, never a secret),
 *     then sets its own values so that the victim can check they do not reach it;
 *   3 efer: WRMSR EFER clearing LME with paging on (must #GP, APM vol. 2 §3.1.7);
 *   4 compat: IRETQ into a 32-bit code segment (compatibility mode), a CPUID exit there;
 *   5 storm: a periodic guest timer of 1 TSC tick with interrupts on, forever;
 *   6 code16: IRETQ into a 16-bit code segment (a mode the simulated CPU does not model).
 * Exit code (1, 2): the number of registers that leaked or were disturbed. */
#include "redoubt.h"

extern void set_dr(const uint64_t d[4]);
extern void get_dr(uint64_t d[4]);
extern void set_dr67(uint64_t dr6, uint64_t dr7);
extern void get_dr67(uint64_t* dr6, uint64_t* dr7);
extern void set_cr8(uint64_t v);
extern uint64_t get_cr8(void);
extern void set_cr2(uint64_t v);
extern uint64_t get_cr2(void);
extern void enable_sse(void);
extern uint64_t get_tr(void);
extern uint64_t get_ldtr(void);
extern void fx_restore(const void* img);
extern void fx_save(void* img);
extern uint64_t msr_read(uint32_t msr, uint64_t* out);
extern uint64_t msr_write(uint32_t msr, uint64_t value);
extern uint64_t gpr_probe(uint64_t base, uint64_t out[16]);
extern void isr_recover(void);
extern void isr_iret(void);
extern void enter_compat(uint64_t cs32, uint64_t ds);

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

static void load_idt(void) {
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } idtr = {sizeof idt - 1, (uint64_t)idt};
  __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* The FXSAVE64 image (APM vol. 5 FXSAVE), 64-bit format. */
struct fx {
  uint16_t fcw, fsw;
  uint8_t ftw, r5;
  uint16_t fop;
  uint64_t fip, fdp;
  uint32_t mxcsr, mxcsr_mask;
  uint8_t st[8][16];
  uint8_t xmm[16][16];
  uint8_t rest[96];
} __attribute__((aligned(16)));

#define MSR_EFER 0xC0000080u
#define MSR_STAR 0xC0000081u
#define MSR_LSTAR 0xC0000082u
#define MSR_CSTAR 0xC0000083u
#define MSR_SFMASK 0xC0000084u
#define MSR_FS_BASE 0xC0000100u
#define MSR_GS_BASE 0xC0000101u
#define MSR_KERNEL_GS_BASE 0xC0000102u
#define MSR_SYSENTER_CS 0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
#define MSR_PAT 0x277u

/* The values a guest's registers hold: base + a per-register offset. */
#define VICTIM 0x5EC0000000000000ull
#define SPY 0x0000000000000000ull

static const uint32_t kMsrs[] = {MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE};
static const char* const kMsrNames[] = {"FS_BASE", "GS_BASE", "KERNEL_GS_BASE"};
/* Intercepted by the hypervisor: #GP for every guest (nothing to leak, nothing to set). */
static const uint32_t kDenied[] = {MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK, MSR_SYSENTER_CS, MSR_SYSENTER_ESP,
                                   MSR_SYSENTER_EIP};
static const char* const kDeniedNames[] = {"STAR", "LSTAR", "CSTAR", "SFMASK", "SYSENTER_CS", "SYSENTER_ESP",
                                           "SYSENTER_EIP"};

static unsigned bad;

static void show(const char* who, const char* name, uint64_t got, uint64_t want) {
  printf("%s: %s=0x%lx%s\n", who, name, (unsigned long)got, got == want ? "" : " MISMATCH");
  if (got != want) ++bad;
}

/* A 16-byte register from its image as two 64-bit halves. */
static uint64_t q(const uint8_t* p, unsigned half) {
  uint64_t v;
  memcpy(&v, p + 8 * half, 8);
  return v;
}

/* The state a guest sets: tag = 0 (the spy's, == the initial state for most) or VICTIM. */
static void fill_fx(struct fx* f, uint64_t tag) {
  memset(f, 0, sizeof *f);
  f->fcw = tag ? 0x027F : 0x037F;
  f->fsw = tag ? 0x3800 : 0;
  f->ftw = tag ? 0x81 : 0;
  f->fop = tag ? 0x7D3 : 0;
  f->fip = tag ? tag + 0xF1 : 0;
  f->fdp = tag ? tag + 0xFD : 0;
  f->mxcsr = tag ? 0xFFC0 : 0x1F80; /* all masks, RC = toward zero, FTZ, DAZ */
  for (unsigned i = 0; i < 8; ++i) {
    uint64_t v = tag ? tag + 0x570 + i : 0;
    memcpy(f->st[i], &v, 8);
    f->st[i][8] = tag ? 0x3F : 0;
  }
  for (unsigned i = 0; i < 16; ++i) {
    uint64_t lo = tag ? tag + 0xA0 + i : 0, hi = tag ? ~(tag + i) : 0;
    memcpy(f->xmm[i], &lo, 8);
    memcpy(f->xmm[i] + 8, &hi, 8);
  }
}

/* Compare (and print) every register of the image against `want`. */
static void check_fx(const char* who, const struct fx* got, const struct fx* want) {
  char name[16];
  show(who, "FCW", got->fcw, want->fcw);
  show(who, "FSW", got->fsw, want->fsw);
  show(who, "FTW", got->ftw, want->ftw);
  show(who, "FOP", got->fop, want->fop);
  show(who, "FIP", got->fip, want->fip);
  show(who, "FDP", got->fdp, want->fdp);
  show(who, "MXCSR", got->mxcsr, want->mxcsr);
  for (unsigned i = 0; i < 8; ++i) {
    memcpy(name, "ST0", 4);
    name[2] = (char)('0' + i);
    show(who, name, q(got->st[i], 0) ^ (q(got->st[i], 1) & 0xFFFF) << 48,
         q(want->st[i], 0) ^ (q(want->st[i], 1) & 0xFFFF) << 48);
  }
  for (unsigned i = 0; i < 16; ++i)
    for (unsigned h = 0; h < 2; ++h) {
      unsigned k = 0;
      name[k++] = 'X';
      name[k++] = 'M';
      name[k++] = 'M';
      if (i >= 10) name[k++] = '1';
      name[k++] = (char)('0' + i % 10);
      name[k++] = '.';
      name[k++] = h ? 'h' : 'l';
      name[k] = 0;
      show(who, name, q(got->xmm[i], h), q(want->xmm[i], h));
    }
}

struct regs {
  uint64_t dr[4], dr6, dr7, cr8, cr2, msr[3], pat, efer, tr, ldtr, gdt_base, gdt_limit;
};

/* The victim's own GDT: the entry layout (null, code64 0x08, data 0x10) and a 64-bit TSS at 0x18. */
static uint64_t victim_gdt[5] __attribute__((aligned(16)));
static uint8_t victim_tss[104] __attribute__((aligned(16)));

static void victim_ltr(void) {
  uint64_t base = (uint64_t)victim_tss;
  victim_gdt[1] = 0x00AF9A000000FFFFull;
  victim_gdt[2] = 0x00CF92000000FFFFull;
  /* Available 64-bit TSS (type 9), P, limit 0x67 (APM vol. 2 §12.2.5): 16 bytes. */
  victim_gdt[3] = 0x67 | (base & 0xFFFFFF) << 16 | 0x89ull << 40 | ((base >> 24) & 0xFF) << 56;
  victim_gdt[4] = base >> 32;
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } gdtr = {sizeof victim_gdt - 1, (uint64_t)victim_gdt};
  __asm__ volatile("lgdt %0" : : "m"(gdtr));
  __asm__ volatile("ltr %w0" : : "r"((uint16_t)0x18));
}

static void get_gdtr(uint64_t* base, uint64_t* limit) {
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } gdtr;
  __asm__ volatile("sgdt %0" : "=m"(gdtr));
  *base = gdtr.base;
  *limit = gdtr.limit;
}

static void want_regs(struct regs* r, uint64_t tag) {
  for (unsigned i = 0; i < 4; ++i) r->dr[i] = tag ? 0x00007EC00000D000ull + 0x100 * i : 0;
  r->dr6 = tag ? 0xFFFF0FF3 : 0xFFFF0FF0;  /* B0, B1 */
  r->dr7 = tag ? 0x55550400 : 0x400;       /* RW/LEN set, no breakpoint enabled */
  r->cr8 = tag ? 0xB : 0;
  r->cr2 = tag ? tag + 0xC2 : 0;
  for (unsigned i = 0; i < 3; ++i) r->msr[i] = tag ? 0x00007EC0000F5000ull + 0x1000 * i : 0;
  r->pat = tag ? 0x0106040601060406ull : 0x0007040600070406ull;
  r->efer = tag ? 0xD00 : 0xD01; /* the victim turns SYSCALL off (SCE); LME LMA NXE stay */
  r->tr = tag ? 0x18 : 0;        /* the victim's TSS; the hypervisor's initial TR selector is 0 */
  r->ldtr = 0;                   /* LLDT is not modelled: nobody sets an LDT */
  r->gdt_base = tag ? (uint64_t)victim_gdt : 0x2000;
  r->gdt_limit = tag ? sizeof victim_gdt - 1 : 23;
}

static void set_regs(const struct regs* r, const struct fx* f) {
  set_dr(r->dr);
  set_dr67(r->dr6, r->dr7);
  set_cr8(r->cr8);
  set_cr2(r->cr2);
  for (unsigned i = 0; i < 3; ++i) msr_write(kMsrs[i], r->msr[i]);
  msr_write(MSR_PAT, r->pat);
  msr_write(MSR_EFER, r->efer);
  if (r->tr) victim_ltr();
  fx_restore(f);
}

static void check_regs(const char* who, const struct regs* want, const struct fx* want_fx) {
  struct regs got;
  struct fx fx;
  get_dr(got.dr);
  get_dr67(&got.dr6, &got.dr7);
  got.cr8 = get_cr8();
  got.cr2 = get_cr2();
  char name[4] = "DR0";
  for (unsigned i = 0; i < 4; ++i) {
    name[2] = (char)('0' + i);
    show(who, name, got.dr[i], want->dr[i]);
  }
  show(who, "DR6", got.dr6, want->dr6);
  show(who, "DR7", got.dr7, want->dr7);
  show(who, "CR8", got.cr8, want->cr8);
  show(who, "CR2", got.cr2, want->cr2);
  for (unsigned i = 0; i < 3; ++i) {
    uint64_t v = ~0ull, f = msr_read(kMsrs[i], &v);
    show(who, kMsrNames[i], f ? ~0ull : v, want->msr[i]);
  }
  uint64_t v = ~0ull;
  show(who, "PAT", msr_read(MSR_PAT, &v) ? ~0ull : v, want->pat);
  show(who, "EFER", msr_read(MSR_EFER, &v) ? ~0ull : v, want->efer);
  show(who, "TR", get_tr(), want->tr);
  show(who, "LDTR", get_ldtr(), want->ldtr);
  get_gdtr(&got.gdt_base, &got.gdt_limit);
  show(who, "GDTR.base", got.gdt_base, want->gdt_base);
  show(who, "GDTR.limit", got.gdt_limit, want->gdt_limit);
  fx_save(&fx);
  check_fx(who, &fx, want_fx);
}

static void check_gprs(const char* who, uint64_t base) {
  static const char* const kNames[16] = {"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
                                         "R8",  "R9",  "R10", "R11", "R12", "R13", "R14", "R15"};
  uint64_t out[16];
  gpr_probe(base, out);
  for (unsigned i = 0; i < 16; ++i)
    if (i == 0) show(who, kNames[i], out[i], 0); /* the yield's result */
    else if (i != 4) show(who, kNames[i], out[i], base + i);
}

static void denied_msrs(const char* who, int write) {
  for (unsigned i = 0; i < sizeof kDenied / sizeof kDenied[0]; ++i) {
    uint64_t v = 0, f = write ? msr_write(kDenied[i], VICTIM + i) : msr_read(kDenied[i], &v);
    printf("%s: %s %s: %s\n", who, write ? "WRMSR" : "RDMSR", kDeniedNames[i], f == 14 ? "#GP" : "NOT REFUSED");
    if (f != 14) ++bad;
  }
}

static long victim(void) {
  struct regs mine;
  static struct fx fx;
  want_regs(&mine, VICTIM);
  fill_fx(&fx, VICTIM);
  set_regs(&mine, &fx);
  denied_msrs("victim", 1);
  printf("victim: secrets set, yielding\n");
  rd_hypercall(RD_HC_YIELD, 0, 0, 0);
  /* The spy ran (and set its own values): every secret must still be ours. */
  check_regs("victim", &mine, &fx);
  check_gprs("victim", VICTIM); /* yields with every GPR = a secret */
  printf("victim: %u registers disturbed\n", bad);
  return bad;
}

static long spy(void) {
  struct regs init, mine;
  static struct fx fx_init, fx_mine;
  want_regs(&init, SPY);
  fill_fx(&fx_init, SPY);
  printf("spy: reading after the victim's yield\n");
  check_regs("spy", &init, &fx_init); /* its own initial state, never a secret */
  denied_msrs("spy", 0);
  printf("spy: CPUID.1:ECX.XSAVE=%u\n", (unsigned)((({
    uint32_t r[4];
    rd_cpuid(1, 0, r);
    r[2];
  }) >> 26) & 1));
  /* Its own values (distinct from the initial ones), for the victim to check they stay here. */
  want_regs(&mine, SPY);
  for (unsigned i = 0; i < 4; ++i) mine.dr[i] = 0x0000000000501000ull + i;
  mine.cr8 = 0x3;
  fill_fx(&fx_mine, SPY);
  fx_mine.mxcsr = 0x1F80 | (1u << 13);
  memset(fx_mine.xmm, 0x55, sizeof fx_mine.xmm);
  set_dr(mine.dr);
  set_cr8(mine.cr8);
  fx_restore(&fx_mine);
  check_gprs("spy", SPY + 0x100); /* the victim runs with secrets in every GPR meanwhile */
  printf("spy: %u registers leaked\n", bad);
  return bad;
}

static long efer(void) {
  uint64_t v = 0;
  msr_read(MSR_EFER, &v);
  uint64_t f = msr_write(MSR_EFER, v & ~(1ull << 8));
  printf("efer: WRMSR EFER=0x%lx (LME cleared, CR0.PG = 1): %s\n", (unsigned long)(v & ~(1ull << 8)),
         f == 14 ? "#GP" : "accepted");
  msr_read(MSR_EFER, &v);
  printf("efer: EFER=0x%lx, still running in 64-bit mode\n", (unsigned long)v);
  return f == 14 ? 0 : 1;
}

static long compat(uint64_t cs) {
  /* Our own GDT: null, the 64-bit code (0x08), data (0x10), 32-bit code (0x18), 16-bit code (0x20). */
  static uint64_t gdt[5] __attribute__((aligned(16))) = {0, 0x00AF9A000000FFFFull, 0x00CF92000000FFFFull,
                                                          0x00CF9A000000FFFFull, 0x008F9A000000FFFFull};
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } gdtr = {sizeof gdt - 1, (uint64_t)gdt};
  __asm__ volatile("lgdt %0" : : "m"(gdtr));
  printf("compat: IRETQ into the %s code segment 0x%lx\n", cs == 0x18 ? "32-bit" : "16-bit", (unsigned long)cs);
  enter_compat(cs, 0x10);
  return 1; /* not reached: the 32-bit code shuts down with 32 */
}

static long storm(void) {
  set_gate(0x40, isr_iret);
  load_idt();
  printf("storm: periodic timer of 1 tick, interrupts on\n");
  rd_hypercall(RD_HC_SET_TIMER, 0x40, 1, 1);
  __asm__ volatile("sti");
  for (;;) __asm__ volatile("pause");
  __builtin_unreachable();
}

long guest_main(void) {
  const struct rd_boot_info* bi = rd_boot_info();
  set_gate(13, isr_recover);
  load_idt();
  enable_sse();
  switch (bi->args[0]) {
    case 1: return victim();
    case 2: return spy();
    case 3: return efer();
    case 4: return compat(0x18);
    case 5: return storm();
    case 6: return compat(0x20);
  }
  printf("hvattack: unknown mode %lu\n", (unsigned long)bi->args[0]);
  return 100;
}
