/* probe: an attacker guest. Reads and writes hypervisor memory, another
 * guest's RAM and the TPM at locality 2 (guest-physical = the host-physical
 * addresses it was told in args[0..2]). Each access must be stopped: either
 * the hypervisor kills the probe, or (policy "inject") a #PF arrives, which
 * the probe's handler records before going on to the next attempt.
 * args[3] = index of the first attempt (so each can be tried alone).
 * Exit code: the number of attempts that were NOT stopped (0 = contained). */
#include "redoubt.h"

extern uint64_t probe_read(uint64_t addr, uint64_t* faulted);
extern void probe_write(uint64_t addr, uint64_t value, uint64_t* faulted);
extern void isr_probe_pf(void);
extern volatile uint64_t last_cr2, last_err;

struct gate {
  uint16_t off0, sel;
  uint8_t ist, type;
  uint16_t off1;
  uint32_t off2, zero;
};
static struct gate idt[256] __attribute__((aligned(16)));

long guest_main(void) {
  const struct rd_boot_info* bi = rd_boot_info();
  uint64_t hv_mem = bi->args[0] ? bi->args[0] : 0x04000000ull;
  uint64_t other = bi->args[1] ? bi->args[1] : 0x05000000ull;
  uint64_t tpm = bi->args[2] ? bi->args[2] : 0xFED42000ull; /* TPM locality 2 TPM_ACCESS_2 */

  uint64_t a = (uint64_t)isr_probe_pf;
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

  struct {
    const char* what;
    uint64_t addr;
    int write;
  } attempts[] = {
      {"read hypervisor memory", hv_mem, 0},   {"write hypervisor memory", hv_mem + 0x40, 1},
      {"read another guest's RAM", other, 0},  {"write another guest's RAM", other + 0x100000, 1},
      {"read TPM locality 2", tpm, 0},         {"write TPM locality 2 (request use)", tpm, 1},
  };
  unsigned n = sizeof attempts / sizeof attempts[0], not_stopped = 0;
  unsigned first = bi->args[3] < n ? (unsigned)bi->args[3] : 0; /* args[3]: start at this attempt */
  printf("probe: %u attempts; hypervisor memory 0x%lx, other guest 0x%lx, TPM 0x%lx\n", n, (unsigned long)hv_mem,
         (unsigned long)other, (unsigned long)tpm);
  for (unsigned i = first; i < n; ++i) {
    uint64_t faulted = 0, value = 0;
    last_cr2 = 0;
    if (attempts[i].write)
      probe_write(attempts[i].addr, attempts[i].write == 1 ? 0x0000000000000002ull : 0, &faulted);
    else
      value = probe_read(attempts[i].addr, &faulted);
    if (faulted)
      printf("probe: %s at 0x%lx: stopped (#PF err=0x%lx cr2=0x%lx)\n", attempts[i].what,
             (unsigned long)attempts[i].addr, (unsigned long)last_err, (unsigned long)last_cr2);
    else {
      ++not_stopped;
      printf("probe: %s at 0x%lx: NOT STOPPED (value 0x%lx)\n", attempts[i].what, (unsigned long)attempts[i].addr,
             (unsigned long)value);
    }
  }
  printf("probe: %u/%u attempts stopped\n", n - first - not_stopped, n - first);
  return not_stopped;
}
