/* dmacopy: drives the DMA engine the hypervisor assigned to this guest
 * (docs/dma.md "Device assignment"). The engine's BAR0 is mapped at the
 * guest-physical address the boot info gives; its DMA addresses are
 * guest-physical (IOVA = GPA), and reach this guest's RAM only.
 * Two back-ends, chosen by what BAR0 offset 0 reads: the simulator's DMA engine
 * ("RDMA", abi/dma_engine.hpp) and QEMU's edu (0x010000ed, hw/misc/edu.c; docs/qemu.md).
 * The simulator's engine:
 *   args[0] = 0: copy 4 KiB within its RAM with the engine, check it, fill a page.
 *   args[0] = 1: the same, then attack: args[1] and args[2] are two addresses outside
 *                its RAM (another guest's, the hypervisor's, as host-physical addresses);
 *                the engine is told to read each into its RAM and to fill each.
 * edu (no COPY: memory -> its 4 KiB buffer -> memory, 2 KiB per transfer, see edu_xfer):
 *   args[0] = 0: copy a 4 KiB page within its RAM through the buffer, check it.
 *   args[0] = 2: the same, then the read attack: args[1..3] are addresses outside its
 *                RAM (the hypervisor's, another guest's, the SLB's); for each, the buffer is
 *                primed with a canary from its RAM, edu reads 2 KiB at the target into the
 *                buffer, then writes the buffer into its RAM at 0x380000 + k * 4 KiB;
 *                what arrived is printed in hex, for the test to hash.
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

/* ---- QEMU's edu (hw/misc/edu.c, QEMU 7.2) ---- */
#define EDU_IDENT 0x010000edu
#define EDU_SRC 0x80
#define EDU_DST 0x88
#define EDU_COUNT 0x90
#define EDU_CMD 0x98
#define EDU_RUN 1u    /* EDU_DMA_RUN: cleared by the device when the transfer is done */
#define EDU_TO_RAM 2u /* EDU_DMA_DIR 1: buffer -> memory; 0: memory -> buffer */
#define EDU_BUF 0x40000ull
/* QEMU 7.2's edu_check_range rejects (hw_error: QEMU aborts) a transfer that ends at the
 * buffer's last byte, so one transfer moves at most 2 KiB here. */
#define EDU_XFER 2048u

static uint32_t rd64lo(uint32_t o) { return *(volatile uint32_t*)(bar + o); }

/* One edu transfer; returns 0 when the device cleared RUN (a transfer starts 100 ms of virtual
 * time after the command: edu_dma_timer), 1 when it never did. A transfer AMD-Vi blocks still
 * completes as far as edu can tell (pci_dma_read's result is ignored). */
static int edu_xfer(uint64_t src, uint64_t dst, uint32_t n, uint32_t dir) {
  wr64(EDU_SRC, src);
  wr64(EDU_DST, dst);
  wr64(EDU_COUNT, n);
  wr64(EDU_CMD, EDU_RUN | dir);
  /* Polled between yields: a guest is charged the TSC ticks it runs (hypervisor/core/policy.hpp
   * budget_ticks), and 100 ms of spinning per transfer would spend most of its budget. */
  for (uint64_t i = 0; i < 10000000ull; ++i) {
    if (!(rd64lo(EDU_CMD) & EDU_RUN)) return 0;
    rd_hypercall(RD_HC_YIELD, 0, 0, 0);
  }
  return 1;
}

static uint8_t canary_byte(unsigned i) { return (uint8_t)(0xC3 ^ (i * 29)); }

/* One line "dmacopy-edu: WHAT 0xTARGET hex <2n hex digits>", written through console_write
 * hypercalls of up to 1 KiB (one exit each, not one per byte). */
static void hexdump(const char* what, uint64_t target, const uint8_t* p, unsigned n) {
  static const char d[] = "0123456789abcdef";
  static char line[1024 + 1]; /* + the newline */
  printf("dmacopy-edu: %s 0x%lx hex ", what, (unsigned long)target);
  unsigned used = 0;
  for (unsigned i = 0; i < n; ++i) {
    line[used++] = d[p[i] >> 4];
    line[used++] = d[p[i] & 15];
    if (used == 1024 || i + 1 == n) {
      if (i + 1 == n) line[used++] = '\n';
      rd_hypercall(RD_HC_CONSOLE_WRITE, (long)line, used, 0);
      used = 0;
    }
  }
}

static long edu_main(const struct rd_boot_info* bi) {
  uint8_t* src = (uint8_t*)0x200000;
  uint8_t* dst = (uint8_t*)0x300000;
  for (int i = 0; i < 4096; ++i) src[i] = (uint8_t)(i * 7 + 3);
  memset(dst, 0, 4096);
  int stuck = 0;
  for (uint32_t half = 0; half < 4096; half += EDU_XFER) {
    stuck |= edu_xfer(0x200000 + half, EDU_BUF, EDU_XFER, 0);
    stuck |= edu_xfer(EDU_BUF, 0x300000 + half, EDU_XFER, EDU_TO_RAM);
  }
  int same = !stuck && memcmp(src, dst, 4096) == 0;
  printf("dmacopy: edu COPY 4096 bytes GPA 0x200000 -> buffer -> 0x300000: %s, %s, fingerprint %016lx\n",
         stuck ? "a transfer never finished" : "done", same ? "the copy matches" : "the copy DIFFERS",
         (unsigned long)sum(dst, 4096));
  if (bi->args[0] == 2) {
    uint8_t* canary = (uint8_t*)0x210000;
    for (unsigned i = 0; i < EDU_XFER; ++i) canary[i] = canary_byte(i);
    for (int k = 1; k <= 3; ++k) {
      const uint64_t target = bi->args[k];
      if (!target) continue;
      uint8_t* landing = (uint8_t*)(0x380000ull + (uint64_t)(k - 1) * 4096);
      memset(landing, 0, 4096);
      int st = edu_xfer(0x210000, EDU_BUF, EDU_XFER, 0);          /* prime: canary -> buffer */
      st |= edu_xfer(target, EDU_BUF, EDU_XFER, 0);              /* the attack: target -> buffer */
      st |= edu_xfer(EDU_BUF, (uint64_t)landing, EDU_XFER, EDU_TO_RAM); /* buffer -> its own RAM */
      int is_canary = memcmp(landing, canary, EDU_XFER) == 0, zero = 1;
      for (unsigned i = 0; i < EDU_XFER; ++i) zero &= landing[i] == 0;
      printf("dmacopy-edu: read 0x%lx: %s, landing 0x%lx holds %s (%016lx)\n", (unsigned long)target,
             st ? "a transfer never finished" : "transfers done", (unsigned long)(uint64_t)landing,
             is_canary ? "the canary (the buffer was not changed)" : zero ? "zeros" : "OTHER BYTES",
             (unsigned long)sum(landing, EDU_XFER));
      hexdump("landing for", target, landing, EDU_XFER);
    }
  }
  printf("dmacopy: ready\n");
  return same ? 0 : 1;
}

long guest_main(void) {
  const struct rd_boot_info* bi = rd_boot_info();
  if (bi->device_count == 0) {
    printf("dmacopy: no device assigned\n");
    return 2;
  }
  bar = (volatile uint8_t*)bi->device_bar_gpa[0];
  const unsigned id = bi->device_id[0];
  if (rd32(0) == EDU_IDENT) {
    printf("dmacopy: edu %02x:%02x.%x at GPA 0x%lx, ident 0x%x\n", id >> 8, (id >> 3) & 31, id & 7,
           (unsigned long)bi->device_bar_gpa[0], rd32(0));
    return edu_main(bi);
  }
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
