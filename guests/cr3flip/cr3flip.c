/* cr3flip: a guest that changes CR3 often, for comparing shadow and nested paging
 * (docs/hypervisor.md "Shadow paging", docs/research.md). args[0] selects:
 *  0  two address spaces that map the same window at 1 GiB onto different frames:
 *     a coherence check (a PTE rewritten, then INVLPG; rewritten back, then a CR3
 *     reload: the new translation must be seen) and args[1] (default 2000) round trips
 *     A -> B -> A with a read-modify-write through the window in each;
 *  1  a page-table bomb: one 4 KiB page table shared by 2048 directory entries, touched
 *     2 MiB apart (each touch needs its own shadow table), args[1] rounds (default 64),
 *     each after a CR3 reload;
 *  2  maps host-physical args[1] (e.g. --guest-args cr3flip=2,hv-memory) into its window
 *     through its own page tables and reads it.
 * Identical serial output under both paging modes is the point (tests/hypervisor). */
#include "redoubt.h"

#define P 1ull
#define W 2ull
#define PS 0x80ull
#define WINDOW 0x40000000ull /* 1 GiB */
#define BOMB 0x80000000ull   /* 2 GiB */
#define PAGES 16

struct space {
  uint64_t pml4[512], pdpt[512], pd_win[512], pt_win[512];
};
static struct space sa __attribute__((aligned(4096)));
static struct space sb __attribute__((aligned(4096)));
static uint64_t pd_low[512] __attribute__((aligned(4096))); /* [0, 1 GiB) in 2 MiB pages, shared */
static uint64_t pd_bomb[4][512] __attribute__((aligned(4096)));
static uint64_t pt_bomb[512] __attribute__((aligned(4096)));
static uint8_t frames[2 * PAGES + 2][4096] __attribute__((aligned(4096)));

static void build(struct space* s, unsigned first_frame) {
  s->pml4[0] = (uint64_t)s->pdpt | P | W;
  s->pdpt[0] = (uint64_t)pd_low | P | W;
  s->pdpt[1] = (uint64_t)s->pd_win | P | W;
  s->pd_win[0] = (uint64_t)s->pt_win | P | W;
  for (unsigned i = 0; i < PAGES; ++i) s->pt_win[i] = (uint64_t)frames[first_frame + i] | P | W;
}

static inline void load_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline uint64_t read_cr3(void) {
  uint64_t v;
  __asm__ volatile("mov %%cr3, %0" : "=r"(v));
  return v;
}
static inline void invlpg(uint64_t a) { __asm__ volatile("invlpg (%0)" : : "r"(a) : "memory"); }

static long coherence_and_switches(uint64_t rounds) {
  volatile uint64_t* win = (volatile uint64_t*)WINDOW;
  uint64_t a = (uint64_t)sa.pml4, b = (uint64_t)sb.pml4;
  int ok = 1;
  /* Coherence: page 0 of A's window -> frame X (0x1111), then Y (0x2222), then X again. */
  uint8_t* x = frames[2 * PAGES];
  uint8_t* y = frames[2 * PAGES + 1];
  ((volatile uint64_t*)x)[0] = 0x1111;
  ((volatile uint64_t*)y)[0] = 0x2222;
  load_cr3(a);
  sa.pt_win[0] = (uint64_t)x | P | W;
  invlpg(WINDOW);
  uint64_t v0 = win[0];
  sa.pt_win[0] = (uint64_t)y | P | W;
  invlpg(WINDOW);
  uint64_t v1 = win[0];
  printf("cr3flip: PTE rewritten, after INVLPG the window reads 0x%lx: %s\n", (unsigned long)v1,
         v0 == 0x1111 && v1 == 0x2222 ? "coherent" : "STALE");
  ok &= v0 == 0x1111 && v1 == 0x2222;
  sa.pt_win[0] = (uint64_t)x | P | W;
  load_cr3(read_cr3());
  uint64_t v2 = win[0];
  printf("cr3flip: PTE rewritten back, after a CR3 reload it reads 0x%lx: %s\n", (unsigned long)v2,
         v2 == 0x1111 ? "coherent" : "STALE");
  ok &= v2 == 0x1111;
  sa.pt_win[0] = (uint64_t)frames[0] | P | W;
  invlpg(WINDOW);

  /* Round trips: each space increments its own copy; the sums tell the spaces apart. */
  for (unsigned i = 0; i < 2 * PAGES; ++i) ((volatile uint64_t*)frames[i])[1] = 0;
  uint64_t sum = 0;
  for (uint64_t r = 0; r < rounds; ++r) {
    unsigned pg = (unsigned)(r % PAGES);
    load_cr3(b);
    win[pg * 512 + 1] += 3;
    sum += win[pg * 512 + 1];
    load_cr3(a);
    win[pg * 512 + 1] += 1;
    sum += win[pg * 512 + 1];
  }
  uint64_t ta = 0, tb = 0;
  for (unsigned i = 0; i < PAGES; ++i) {
    ta += ((volatile uint64_t*)frames[i])[1];
    tb += ((volatile uint64_t*)frames[PAGES + i])[1];
  }
  int spaces_ok = ta == rounds && tb == 3 * rounds;
  printf("cr3flip: %lu CR3 loads, space A total %lu, space B total %lu, checksum 0x%lx: %s\n",
         (unsigned long)(2 * rounds), (unsigned long)ta, (unsigned long)tb, (unsigned long)sum,
         spaces_ok ? "separate" : "MIXED");
  ok &= spaces_ok;
  printf("cr3flip: %s\n", ok ? "all checks passed" : "FAILED");
  return ok ? 0 : 1;
}

static long bomb(uint64_t rounds) {
  /* [2 GiB, 6 GiB): every 2 MiB region through the same page table (which maps 512 pages onto 2 frames). */
  for (unsigned i = 0; i < 512; ++i) pt_bomb[i] = (uint64_t)frames[i & 1] | P | W;
  for (unsigned d = 0; d < 4; ++d) {
    for (unsigned i = 0; i < 512; ++i) pd_bomb[d][i] = (uint64_t)pt_bomb | P | W;
    sa.pdpt[2 + d] = (uint64_t)pd_bomb[d] | P | W;
  }
  uint64_t sum = 0;
  for (uint64_t r = 0; r < rounds; ++r) {
    load_cr3((uint64_t)sa.pml4); /* each round from a cold TLB */
    for (uint64_t k = 0; k < 2048; ++k) sum += *(volatile uint64_t*)(BOMB + (k << 21));
  }
  printf("cr3flip: bomb survived %lu rounds of 2048 tables (sum %lu)\n", (unsigned long)rounds, (unsigned long)sum);
  return 0;
}

static long map_host(uint64_t hpa) {
  sa.pt_win[0] = (hpa & ~0xFFFull) | P | W;
  load_cr3((uint64_t)sa.pml4);
  printf("cr3flip: mapping 0x%lx at 0x%lx through my own page tables\n", (unsigned long)hpa, (unsigned long)WINDOW);
  const volatile char* p = (const volatile char*)(WINDOW + (hpa & 0xFFF));
  char magic[9];
  for (int i = 0; i < 8; ++i) magic[i] = (p[i] >= 32 && p[i] < 127) ? p[i] : '.';
  magic[8] = 0;
  printf("cr3flip: read host memory: \"%s\"\n", magic);
  return 2;
}

long guest_main(void) {
  const struct rd_boot_info* bi = rd_boot_info();
  for (uint64_t a = 0; a < bi->ram_size && a < (1ull << 30); a += 2ull << 20) pd_low[a >> 21] = a | P | W | PS;
  build(&sa, 0);
  build(&sb, PAGES);
  switch (bi->args[0]) {
    case 1: return bomb(bi->args[1] ? bi->args[1] : 64);
    case 2: return map_host(bi->args[1]);
    default: return coherence_and_switches(bi->args[1] ? bi->args[1] : 2000);
  }
}
