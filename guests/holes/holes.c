/* holes: the x86 virtualization holes seen by a real guest kernel (issue 14,
 * docs/virtualization-holes.md "A real deprivileged guest kernel").
 *
 * The same kernel code (kernel_probe, holes_asm.asm) runs twice in this guest:
 *   (b) ring-deprivileged: at CPL 3 under this guest's own monitor at CPL 0, which
 *       does trap-and-emulate for what traps (#GP: LGDT, LIDT, LTR, MOV CR0, CLI, STI)
 *       the way a pre-2006 VMM had to — a VMM in miniature inside one guest;
 *   (a) as a normal guest kernel at CPL 0 under the Redoubt hypervisor (SVM or VMX).
 * It prints one Markdown table row per sensitive instruction: what the kernel observed
 * at CPL 0, what the deprivileged kernel observed, and whether that is a hole (the
 * monitor's state leaks, IF is lost, or the kernel can tell it is not at CPL 0).
 * Exit code: the number of rows whose observation differs from the expected one. */
#include "redoubt.h"

extern void kernel_probe(void* obs, const void* tables);
extern int run_deprivileged(uint64_t rip, uint64_t rsp);
extern void isr_gp(void), isr_done(void), isr_abort(void), user_entry(void);
extern uint64_t probe_obs_ptr, probe_tables_ptr;

/* What kernel_probe stores (offsets fixed in holes_asm.asm). */
struct __attribute__((packed)) desc_reg {
  uint16_t limit;
  uint64_t base;
  uint8_t pad[6];
};
struct obs {
  struct desc_reg gdtr; /* +0 SGDT */
  struct desc_reg idtr; /* +16 SIDT */
  uint64_t ldtr;        /* +32 SLDT (16 bits) */
  uint64_t tr;          /* +40 STR (16 bits) */
  uint64_t msw;         /* +48 SMSW r64 */
  uint64_t cr0;         /* +56 MOV from CR0 */
  uint64_t fl_cli;      /* +64 PUSHF after CLI */
  uint64_t fl_popf;     /* +72 PUSHF after STI, POPF(IF = 0) */
  uint64_t lar;         /* +80 */
  uint8_t zf[4];        /* +88 LAR LSL VERR VERW */
  uint8_t pad[4];
  uint64_t lsl;         /* +96 */
  uint64_t cs;          /* +104 */
  uint32_t cpuid[4];    /* +112 EAX EBX EDX ECX */
};
_Static_assert(sizeof(struct obs) == 128, "struct obs layout is shared with holes_asm.asm");

struct gate {
  uint16_t off0, sel;
  uint8_t ist, type;
  uint16_t off1;
  uint32_t off2, zero;
};
struct __attribute__((packed)) tss {
  uint32_t r0;
  uint64_t rsp[3];
  uint64_t r1;
  uint64_t ist[7];
  uint64_t r2;
  uint16_t r3, iopb;
};

#define KCODE 0x08
#define MON_TSS 0x30 /* the monitor's TR; the kernel's is 0x28 */
#define KERN_TSS 0x28
#define UCODE 0x23
#define TS (1ull << 3)
#define IF (1ull << 9)

/* 4 GiB identity map with user-accessible 2 MiB pages (the deprivileged kernel runs at CPL 3). */
static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[4][512] __attribute__((aligned(4096)));
/* Two sets of tables: the monitor's (really loaded while the kernel is deprivileged) and the
 * kernel's own (loaded for real at CPL 0, virtual when deprivileged). Different sizes and
 * addresses, so a leak is visible. */
static uint64_t mon_gdt[8] __attribute__((aligned(16)));
static uint64_t kern_gdt[7] __attribute__((aligned(16)));
static struct gate mon_idt[256] __attribute__((aligned(16)));
static struct gate kern_idt[128] __attribute__((aligned(16)));
static struct tss mon_tss, kern_tss;
static uint8_t trap_stack[16384] __attribute__((aligned(16)));
static uint8_t user_stack[16384] __attribute__((aligned(16)));
static struct __attribute__((aligned(16))) {
  struct desc_reg gdtr, idtr;
} ktables;

/* The monitor's virtual state of the deprivileged kernel (what trap-and-emulate keeps). */
static struct {
  struct desc_reg gdtr, idtr;
  uint64_t tr, cr0, vif;
  unsigned traps;
  char trapped[96];
} vm;

static void set_gate(struct gate* g, void (*h)(void), uint8_t type) {
  uint64_t a = (uint64_t)h;
  g->off0 = (uint16_t)a;
  g->sel = KCODE;
  g->ist = 0;
  g->type = type;
  g->off1 = (uint16_t)(a >> 16);
  g->off2 = (uint32_t)(a >> 32);
  g->zero = 0;
}
static void set_tss(uint64_t* gdt, unsigned sel, struct tss* t) {
  uint64_t b = (uint64_t)t, lim = sizeof *t - 1;
  gdt[sel / 8] = (lim & 0xFFFF) | ((b & 0xFFFFFF) << 16) | (0x89ull << 40) | ((b >> 24 & 0xFF) << 56);
  gdt[sel / 8 + 1] = b >> 32;
}
/* Accessed bits preset (as Linux's GDT has them): the simulated CPU's interrupt delivery does not
 * set A when it loads CS from a gate, and VM entry requires an accessed CS (SDM vol. 3C §27.3.1.2). */
static void fill_gdt(uint64_t* gdt) {
  gdt[0] = 0;
  gdt[1] = 0x00AF9B000000FFFFull; /* 0x08 64-bit code DPL 0 */
  gdt[2] = 0x00CF93000000FFFFull; /* 0x10 data DPL 0 */
  gdt[3] = 0x00CFF3000000FFFFull; /* 0x18 data DPL 3 (0x1B) */
  gdt[4] = 0x00AFFB000000FFFFull; /* 0x20 64-bit code DPL 3 (0x23) */
}
static void load_gdtr_idtr(const struct desc_reg* g, const struct desc_reg* i) {
  __asm__ volatile("lgdt %0; lidt %1" : : "m"(*g), "m"(*i) : "memory");
}

static void note_trap(const char* what) {
  ++vm.traps;
  size_t n = strlen(vm.trapped), w = strlen(what);
  if (n + w + 2 < sizeof vm.trapped) {
    if (n) vm.trapped[n++] = ' ';
    memcpy(vm.trapped + n, what, w + 1);
  }
}

/* #GP from the deprivileged kernel (isr_gp): emulate the privileged instruction at RIP against
 * the virtual state and step over it. Returns 0 to resume, 1 to abort (not an instruction this
 * monitor emulates). f[0..15] = GPRs by number, f[16] = error code, f[17] = RIP. */
int monitor_gp(uint64_t* f) {
  const uint8_t* b = (const uint8_t*)f[17];
  unsigned len = 0;
  if (b[0] == 0xFA) {
    vm.vif = 0, len = 1, note_trap("CLI");
  } else if (b[0] == 0xFB) {
    vm.vif = 1, len = 1, note_trap("STI");
  } else if (b[0] == 0x0F) {
    const unsigned modrm = b[2], mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
    if (b[1] == 0x01 && mod == 0 && (reg == 2 || reg == 3) && rm != 4 && rm != 5) {
      memcpy(reg == 2 ? &vm.gdtr : &vm.idtr, (const void*)f[rm], 10); /* LGDT / LIDT m */
      len = 3, note_trap(reg == 2 ? "LGDT" : "LIDT");
    } else if (b[1] == 0x00 && mod == 3 && reg == 3) {
      vm.tr = f[rm] & 0xFFFF, len = 3, note_trap("LTR"); /* LTR r16 */
    } else if (b[1] == 0x20 && mod == 3 && reg == 0) {
      f[rm] = vm.cr0, len = 3, note_trap("MOV-from-CR0");
    } else if (b[1] == 0x22 && mod == 3 && reg == 0) {
      vm.cr0 = f[rm], len = 3, note_trap("MOV-to-CR0");
    }
  }
  if (!len) {
    printf("holes: monitor: #GP at 0x%lx (%x %x %x) is not an instruction it emulates\n", (unsigned long)f[17], b[0], b[1], b[2]);
    return 1;
  }
  f[17] += len;
  return 0;
}

static unsigned bad;
static void row(const char* insn, const char* a, const char* b, const char* verdict, int ok) {
  printf("| `%s` | %s | %s | %s |\n", insn, a, b, verdict);
  if (!ok) {
    ++bad;
    printf("holes: UNEXPECTED in row %s\n", insn);
  }
}

/* Small formatting helpers into static buffers (no snprintf in the guest runtime). */
static char* put_str(char* p, const char* s) {
  while (*s) *p++ = *s++;
  *p = 0;
  return p;
}
static char* put_hex(char* p, uint64_t v) {
  char t[17];
  int n = 0;
  do t[n++] = "0123456789abcdef"[v & 15]; while (v >>= 4);
  p = put_str(p, "0x");
  while (n) *p++ = t[--n];
  *p = 0;
  return p;
}
static const char* fmt_desc(char* buf, const struct desc_reg* d, const char* whose) {
  char* p = put_str(buf, "limit=");
  p = put_hex(p, d->limit);
  p = put_str(p, " base=");
  p = put_hex(p, d->base);
  put_str(p, whose);
  return buf;
}
static const char* fmt_val(char* buf, const char* pre, uint64_t v, const char* post) {
  put_str(put_hex(put_str(buf, pre), v), post);
  return buf;
}
static const char* fmt_if(char* buf, uint64_t fl) {
  put_str(buf, (fl & IF) ? "IF=1" : "IF=0");
  return buf;
}

long guest_main(void) {
  /* .bss is not part of the image: start from zero explicitly. */
  memset(pml4, 0, sizeof pml4);
  memset(pdpt, 0, sizeof pdpt);
  memset(mon_idt, 0, sizeof mon_idt);
  memset(kern_idt, 0, sizeof kern_idt);
  memset(&mon_tss, 0, sizeof mon_tss);
  memset(&kern_tss, 0, sizeof kern_tss);
  memset(&vm, 0, sizeof vm);
  bad = 0;
  /* Page tables (user-accessible identity map), both GDTs, both IDTs, both TSSs. */
  for (unsigned i = 0; i < 4; ++i) {
    pdpt[i] = (uint64_t)pd[i] | 7;
    for (unsigned j = 0; j < 512; ++j) pd[i][j] = ((uint64_t)i << 30) | ((uint64_t)j << 21) | 0x87;
  }
  pml4[0] = (uint64_t)pdpt | 7;
  __asm__ volatile("mov %0, %%cr3" : : "r"(pml4) : "memory");
  fill_gdt(mon_gdt);
  mon_gdt[5] = 0;
  set_tss(mon_gdt, MON_TSS, &mon_tss);
  fill_gdt(kern_gdt);
  set_tss(kern_gdt, KERN_TSS, &kern_tss);
  mon_tss.rsp[0] = (uint64_t)(trap_stack + sizeof trap_stack);
  mon_tss.iopb = kern_tss.iopb = sizeof(struct tss);
  kern_tss.rsp[0] = mon_tss.rsp[0];
  for (unsigned v = 0; v < 32; ++v) set_gate(&mon_idt[v], isr_abort, 0x8E);
  set_gate(&mon_idt[13], isr_gp, 0x8E);
  set_gate(&mon_idt[0x80], isr_done, 0xEE); /* DPL 3: the kernel's "done" call */
  for (unsigned v = 0; v < 32; ++v) set_gate(&kern_idt[v], isr_abort, 0x8E);
  struct desc_reg mgdtr = {sizeof mon_gdt - 1, (uint64_t)mon_gdt, {0}};
  struct desc_reg midtr = {sizeof mon_idt - 1, (uint64_t)mon_idt, {0}};
  ktables.gdtr = (struct desc_reg){sizeof kern_gdt - 1, (uint64_t)kern_gdt, {0}};
  ktables.idtr = (struct desc_reg){sizeof kern_idt - 1, (uint64_t)kern_idt, {0}};
  load_gdtr_idtr(&mgdtr, &midtr);
  __asm__ volatile("ltr %w0" : : "r"(MON_TSS));
  uint64_t cr0;
  __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
  cr0 &= ~TS;
  __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));

  /* (b) deprivileged: the kernel at CPL 3, this monitor at CPL 0. Its virtual CR0 starts as the real one. */
  static struct obs d, n;
  memset(&d, 0xCC, sizeof d);
  d.ldtr = d.tr = 0;
  vm.cr0 = cr0;
  vm.vif = 1;
  probe_obs_ptr = (uint64_t)&d;
  probe_tables_ptr = (uint64_t)&ktables;
  int r = run_deprivileged((uint64_t)user_entry, (uint64_t)(user_stack + sizeof user_stack));
  if (r) {
    printf("holes: the deprivileged kernel did not finish (an exception the monitor does not handle)\n");
    return 100;
  }
  /* (a) the same kernel at CPL 0, a normal guest kernel under the hypervisor (loads its tables for real). */
  memset(&n, 0xCC, sizeof n);
  n.ldtr = n.tr = 0;
  kernel_probe(&n, &ktables);

  static char a[96], b[160];
  printf("holes: the same kernel code at CPL 0 (a guest kernel under the hypervisor) and at CPL 3 under this guest's monitor\n");
  printf("holes: monitor GDTR base 0x%lx limit 0x%x, IDTR base 0x%lx, TR 0x%x; kernel GDTR base 0x%lx limit 0x%x, IDTR base 0x%lx, TR 0x%x\n",
         (unsigned long)mgdtr.base, mgdtr.limit, (unsigned long)midtr.base, MON_TSS, (unsigned long)ktables.gdtr.base,
         ktables.gdtr.limit, (unsigned long)ktables.idtr.base, KERN_TSS);
  printf("| instruction | kernel at CPL 0 (guest under the hypervisor) | same kernel at CPL 3 under the in-guest monitor | hole? |\n");
  printf("|---|---|---|---|\n");
  int own = n.gdtr.base == ktables.gdtr.base && n.gdtr.limit == ktables.gdtr.limit;
  int leak = d.gdtr.base == mgdtr.base && d.gdtr.limit == mgdtr.limit;
  row("SGDT", fmt_desc(a, &n.gdtr, " (its own)"), fmt_desc(b, &d.gdtr, leak ? " (the monitor's)" : ""),
      "leaks the monitor's GDTR, no trap", own && leak);
  own = n.idtr.base == ktables.idtr.base, leak = d.idtr.base == midtr.base;
  row("SIDT", fmt_desc(a, &n.idtr, " (its own)"), fmt_desc(b, &d.idtr, leak ? " (the monitor's)" : ""),
      "leaks the monitor's IDTR, no trap", own && leak);
  row("SLDT", fmt_val(a, "", n.ldtr & 0xFFFF, ""), fmt_val(b, "", d.ldtr & 0xFFFF, ""),
      "none visible here: both LDTRs are null", (n.ldtr & 0xFFFF) == 0 && (d.ldtr & 0xFFFF) == 0);
  row("STR", fmt_val(a, "", n.tr & 0xFFFF, " (its own)"), fmt_val(b, "", d.tr & 0xFFFF, " (the monitor's)"),
      "leaks the monitor's TR, no trap (its LTR trapped)", (n.tr & 0xFFFF) == KERN_TSS && (d.tr & 0xFFFF) == MON_TSS && vm.tr == KERN_TSS);
  row("SMSW r64", fmt_val(a, "", n.msw, (n.msw & TS) ? " (TS=1, as it set)" : " (TS=0)"),
      fmt_val(b, "", d.msw, (d.msw & TS) ? " (TS=1)" : " (TS=0: the real CR0, not its virtual one)"),
      "leaks the real CR0, no trap", (n.msw & TS) && !(d.msw & TS));
  row("MOV r64, CR0", fmt_val(a, "", n.cr0, " (TS=1)"), fmt_val(b, "", d.cr0, " (#GP, emulated: virtual CR0)"),
      "none: privileged, trap-and-emulate works", (n.cr0 & TS) && (d.cr0 & TS) && d.cr0 == vm.cr0);
  fmt_if(a, n.fl_cli);
  put_str(b + strlen(fmt_if(b, d.fl_cli)), " (CLI trapped: virtual IF=0)");
  row("CLI; PUSHF", a, b, "PUSHF shows the real IF=1 after CLI", !(n.fl_cli & IF) && (d.fl_cli & IF));
  fmt_if(a, n.fl_popf);
  put_str(b + strlen(fmt_if(b, d.fl_popf)),
          vm.vif ? " (POPF ignored IF, no #GP; virtual IF still 1)" : " (virtual IF 0)");
  row("STI; POPF (IF=0); PUSHF", a, b, "IF lost: interrupts stay on, the monitor never learns",
      !(n.fl_popf & IF) && (d.fl_popf & IF) && vm.vif == 1);
  row("LAR r64, 0x08", fmt_val(a, n.zf[0] ? "ZF=1 " : "ZF=0 ", n.lar, ""), fmt_val(b, d.zf[0] ? "ZF=1 " : "ZF=0 ", d.lar, " (unchanged)"),
      "tells the kernel it is not at CPL 0", n.zf[0] && !d.zf[0]);
  row("LSL r64, 0x10", fmt_val(a, n.zf[1] ? "ZF=1 " : "ZF=0 ", n.lsl, ""), fmt_val(b, d.zf[1] ? "ZF=1 " : "ZF=0 ", d.lsl, " (unchanged)"),
      "tells the kernel it is not at CPL 0", n.zf[1] && !d.zf[1]);
  row("VERR 0x10", n.zf[2] ? "ZF=1" : "ZF=0", d.zf[2] ? "ZF=1" : "ZF=0", "tells the kernel it is not at CPL 0", n.zf[2] && !d.zf[2]);
  row("VERW 0x10", n.zf[3] ? "ZF=1" : "ZF=0", d.zf[3] ? "ZF=1" : "ZF=0", "tells the kernel it is not at CPL 0", n.zf[3] && !d.zf[3]);
  row("MOV r, CS", fmt_val(a, "", n.cs, ""), fmt_val(b, "", d.cs, " (RPL 3)"), "CS.RPL shows CPL 3", n.cs == KCODE && d.cs == UCODE);
  {
    char va[13], vb[13];
    memcpy(va, &n.cpuid[1], 12);
    memcpy(vb, &d.cpuid[1], 12);
    va[12] = vb[12] = 0;
    put_str(put_str(a, "vendor "), va);
    put_str(put_str(put_str(b, "vendor "), vb), " (no trap in the monitor)");
    row("CPUID 0", a, b, "unprivileged: the monitor cannot intercept it (the hypervisor can)",
        memcmp(va, vb, 12) == 0 && n.cpuid[0] == d.cpuid[0]);
  }
  printf("holes: the monitor trapped and emulated %u instructions: %s\n", vm.traps, vm.trapped);
  printf("holes: %u unexpected rows\n", bad);
  return (long)bad;
}
