/* attack_cpu.c: modes 3 svm, 4 msr, 5 cr, 6 io, 11 exc (CPU state the guest must not change). */
#include "attack.h"

/* ---- 3 svm ---- */

static const char* const kSvmNames[] = {"VMRUN", "VMLOAD", "VMSAVE", "CLGI", "STGI", "SKINIT", "INVLPGA", "INVD", "WBINVD"};

long svm(unsigned which, uint64_t rax) {
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

long msr(uint64_t hv_mem) {
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

long cr(void) {
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

long io(void) {
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

/* ---- 11 exc ---- */

long exc(uint64_t how) {
  os(how ? "exc: IDT outside RAM, then UD2\n" : "exc: no IDT, UD2 forever\n");
  if (how) {
    load_idt(0x7FF00000ull, 0xFFF);
    __asm__ volatile("ud2");
  }
  ud_storm();
  return 1;
}

