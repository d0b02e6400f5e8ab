/* dmacopy: drives the DMA engine the hypervisor assigned to this guest
 * (docs/dma.md "Device assignment"). The engine's BAR0 is mapped at the
 * guest-physical address the boot info gives; its DMA addresses are
 * guest-physical (IOVA = GPA), and reach this guest's RAM only.
 *   args[0] = 0: copy 4 KiB within its RAM with the engine, check it, fill a page.
 *   args[0] = 1: the same, then attack: args[1] and args[2] are two addresses outside
 *                its RAM (another guest's, the hypervisor's, as host-physical addresses);
 *                the engine is told to read each into its RAM and to fill each.
 * Every result is printed; the exit code is 0 when the copy worked. */
#include "redoubt.h"

#define E_SRC 0x010
#define E_DST 0x018
#define E_LEN 0x020
#define E_OP 0x024
#define E_PATTERN 0x028
#define E_DOORBELL 0x030
#define E_STATUS 0x034
#define E_FAULT_ADDR 0x038
#define E_FAULT_INFO 0x040
#define E_BYTES 0x044
#define OP_COPY 0
#define OP_FILL 3

static volatile uint8_t* bar;
static uint32_t rd32(uint32_t o) { return *(volatile uint32_t*)(bar + o); }
static void wr32(uint32_t o, uint32_t v) { *(volatile uint32_t*)(bar + o) = v; }
static void wr64(uint32_t o, uint64_t v) { *(volatile uint64_t*)(bar + o) = v; }

/* Runs one operation; returns STATUS (the doorbell completes the transfer synchronously). */
static uint32_t run(uint32_t op, uint64_t src, uint64_t dst, uint32_t len, uint64_t pattern) {
  wr32(E_STATUS, 7); /* RW1C: clear the last result */
  wr64(E_SRC, src);
  wr64(E_DST, dst);
  wr32(E_LEN, len);
  wr32(E_OP, op);
  wr64(E_PATTERN, pattern);
  wr32(E_DOORBELL, 1);
  return rd32(E_STATUS);
}

static uint64_t sum(const uint8_t* p, uint64_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a: a fingerprint for the log, not a security hash */
  for (uint64_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

long guest_main(void) {
  const struct rd_boot_info* bi = rd_boot_info();
  if (bi->device_count == 0) {
    printf("dmacopy: no device assigned\n");
    return 2;
  }
  bar = (volatile uint8_t*)bi->device_bar_gpa[0];
  const unsigned id = bi->device_id[0];
  printf("dmacopy: engine %02x:%02x.%x at GPA 0x%lx, id 0x%x, requester 0x%x\n", id >> 8, (id >> 3) & 31, id & 7,
         (unsigned long)bi->device_bar_gpa[0], rd32(0), rd32(8));

  uint8_t* src = (uint8_t*)0x200000;
  uint8_t* dst = (uint8_t*)0x300000;
  for (int i = 0; i < 4096; ++i) src[i] = (uint8_t)(i * 7 + 3);
  memset(dst, 0, 4096);
  uint32_t st = run(OP_COPY, 0x200000, 0x300000, 4096, 0);
  int same = memcmp(src, dst, 4096) == 0;
  printf("dmacopy: COPY 4096 bytes GPA 0x200000 -> 0x300000: status 0x%x, %s, fingerprint %016lx\n", st,
         same ? "the copy matches" : "the copy DIFFERS", (unsigned long)sum(dst, 4096));
  st = run(OP_FILL, 0, 0x301000, 64, 0x0123456789abcdefull);
  printf("dmacopy: FILL 64 bytes at GPA 0x301000: status 0x%x, first byte 0x%x\n", st, *(volatile uint8_t*)0x301000);
  int ok = same && st == 1;

  if (bi->args[0] == 1) {
    for (int k = 1; k <= 2; ++k) {
      const uint64_t target = bi->args[k];
      uint8_t* landing = (uint8_t*)0x380000;
      memset(landing, 0, 4096);
      st = run(OP_COPY, target, 0x380000, 4096, 0);
      uint32_t info = rd32(E_FAULT_INFO);
      uint64_t fa = *(volatile uint64_t*)(bar + E_FAULT_ADDR);
      uint64_t fp = sum(landing, 4096);
      int nonzero = 0;
      for (int i = 0; i < 4096; ++i) nonzero |= landing[i];
      printf("dmacopy-attack: read 0x%lx: status 0x%x fault_info 0x%x fault_addr 0x%lx, landing %s (%016lx)\n",
             (unsigned long)target, st, info, (unsigned long)fa, nonzero ? "CHANGED" : "untouched",
             (unsigned long)fp);
      st = run(OP_FILL, 0, target, 4096, 0x4141414141414141ull);
      info = rd32(E_FAULT_INFO);
      printf("dmacopy-attack: write 0x%lx: status 0x%x fault_info 0x%x bytes %u\n", (unsigned long)target, st, info,
             rd32(E_BYTES));
    }
  }
  printf("dmacopy: ready\n");
  return ok ? 0 : 1;
}
