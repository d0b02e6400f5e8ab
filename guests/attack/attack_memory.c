/* attack_memory.c: modes 1 victim, 2 peek, 10 ptbomb, 13 cr3 (memory the guest must not reach). */
#include "attack.h"

/* ---- 1 victim ---- */

long victim(uint64_t seed, uint64_t sleep_ticks) {
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
  load_own_idt();
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

long peek(void) {
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

/* ---- 10 ptbomb ---- */

#define PT_BASE 0x200000ull /* 2 MiB of guest RAM for tables: [2 MiB, 3 MiB + 8 KiB) */

long ptbomb(void) {
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

/* ---- 13 cr3 ---- */

long cr3(uint64_t target) {
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

