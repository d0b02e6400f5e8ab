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
#include "attack.h"

long guest_main(void) {
  const struct rd_boot_info* bi = rd_boot_info();
  set_gate(6, isr_ud);
  set_gate(13, isr_gp);
  set_gate(14, isr_pf);
  load_own_idt();
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
