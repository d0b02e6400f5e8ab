/* mmu: builds its own 4-level page tables (4 KiB and 2 MiB pages), switches
 * CR3, demand-pages a window at 1 GiB from its own #PF handler, unmaps a page
 * and INVLPGs it, and takes periodic timer interrupts programmed with the
 * RD_HC_SET_TIMER hypercall (docs/guests.md, "Timer"). */
#include "redoubt.h"

#define P 1ull
#define W 2ull
#define PS 0x80ull
#define WINDOW 0x40000000ull
#define FRAMES 8
#define TIMER_VECTOR 0x30

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd_low[512] __attribute__((aligned(4096)));   /* [0, 1 GiB) */
static uint64_t pt_first[512] __attribute__((aligned(4096))); /* [0, 2 MiB) in 4 KiB pages */
static uint64_t pd_win[512] __attribute__((aligned(4096)));   /* [1 GiB, 2 GiB) */
static uint64_t pt_win[512] __attribute__((aligned(4096)));   /* the demand-paged window */
static uint8_t frames[FRAMES][4096] __attribute__((aligned(4096)));

struct gate {
  uint16_t off0, sel;
  uint8_t ist, type;
  uint16_t off1;
  uint32_t off2, zero;
};
static struct gate idt[256] __attribute__((aligned(16)));

extern void isr_pf(void);
extern void isr_timer(void);

static volatile unsigned pf_count, next_frame, ticks;
static volatile uint64_t last_cr2;

static void set_gate(int v, void (*fn)(void)) {
  uint64_t a = (uint64_t)fn;
  idt[v].off0 = (uint16_t)a;
  idt[v].sel = RD_KERNEL_CS;
  idt[v].ist = 0;
  idt[v].type = 0x8E; /* present, DPL 0, 64-bit interrupt gate */
  idt[v].off1 = (uint16_t)(a >> 16);
  idt[v].off2 = (uint32_t)(a >> 32);
  idt[v].zero = 0;
}

void pf_handler(uint64_t err, uint64_t rip, uint64_t cr2) {
  ++pf_count;
  last_cr2 = cr2;
  if (cr2 >= WINDOW && cr2 < WINDOW + 512 * 4096ull && !(err & 1) && next_frame < FRAMES) {
    unsigned idx = (unsigned)((cr2 - WINDOW) >> 12);
    pt_win[idx] = (uint64_t)frames[next_frame++] | P | W;
    return; /* retry the access */
  }
  printf("mmu: unexpected #PF err=%lx rip=%lx cr2=%lx\n", (unsigned long)err, (unsigned long)rip,
         (unsigned long)cr2);
  rd_shutdown(3);
}

void timer_handler(void) { ++ticks; }

long guest_main(void) {
  const struct rd_boot_info* bi = rd_boot_info();
  uint64_t ram = bi->ram_size;
  /* Identity-map the first 2 MiB with 4 KiB pages (page 0 left unmapped: null
   * pointers fault), the rest of RAM with 2 MiB pages. */
  for (unsigned i = 1; i < 512; ++i) pt_first[i] = ((uint64_t)i << 12) | P | W;
  pd_low[0] = (uint64_t)pt_first | P | W;
  for (uint64_t a = 2ull << 20; a < ram; a += 2ull << 20) pd_low[a >> 21] = a | P | W | PS;
  pdpt[0] = (uint64_t)pd_low | P | W;
  pd_win[0] = (uint64_t)pt_win | P | W;
  pdpt[1] = (uint64_t)pd_win | P | W;
  pml4[0] = (uint64_t)pdpt | P | W;

  set_gate(14, isr_pf);
  set_gate(TIMER_VECTOR, isr_timer);
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } idtr = {sizeof idt - 1, (uint64_t)idt};
  __asm__ volatile("lidt %0" : : "m"(idtr));

  uint64_t old_cr3;
  __asm__ volatile("mov %%cr3, %0" : "=r"(old_cr3));
  __asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)pml4) : "memory");
  uint64_t cr3;
  __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
  printf("mmu: page tables built; CR3 0x%lx -> 0x%lx\n", (unsigned long)old_cr3, (unsigned long)cr3);

  /* Demand paging: touch 4 pages of the window; each faults once. */
  volatile uint64_t* win = (volatile uint64_t*)WINDOW;
  for (unsigned k = 0; k < 4; ++k) win[k * 512 + 1] = 0x1000 + k;
  unsigned ok = 1;
  for (unsigned k = 0; k < 4; ++k) {
    uint64_t v = ((volatile uint64_t*)frames[k])[1]; /* the same memory through the identity map */
    if (v != 0x1000 + k) ok = 0;
  }
  printf("mmu: demand-paged 4 pages at 0x%lx with %u #PF, aliases %s\n", (unsigned long)WINDOW, pf_count,
         ok ? "match" : "DIFFER");

  /* Unmap page 0 of the window, INVLPG, touch it again: a fresh fault maps a new frame. */
  unsigned before = pf_count;
  pt_win[0] = 0;
  __asm__ volatile("invlpg (%0)" : : "r"(WINDOW) : "memory");
  win[2] = 0x77;
  printf("mmu: after INVLPG the unmapped page faulted %u time(s) (cr2=0x%lx)\n", pf_count - before,
         (unsigned long)last_cr2);

  /* Timer: periodic interrupts on TIMER_VECTOR, delivered through our IDT. */
  const unsigned want = 5;
  rd_hypercall(RD_HC_SET_TIMER, TIMER_VECTOR, 20000, 20000);
  __asm__ volatile("sti");
  while (ticks < want) __asm__ volatile("hlt");
  __asm__ volatile("cli");
  rd_hypercall(RD_HC_SET_TIMER, 0, 0, 0);
  printf("mmu: timer: %u interrupts on vector 0x%x\n", ticks, TIMER_VECTOR);

  int pass = ok && pf_count == 5 && ticks >= want;
  printf("mmu: %s\n", pass ? "all checks passed" : "FAILED");
  return pass ? 0 : 1;
}
