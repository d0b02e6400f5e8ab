// The QEMU boot stub's loader part (tests only; never measured): what an
// untrusted pre-launch loader does before SKINIT — place sl.bin in a 64 KiB-
// aligned SLB, hv.bin at a page, write BootParams and the boot-params pointer
// at SLB+0xFFF8 — then enter the SL as SKINIT leaves the CPU. QEMU has no
// SKINIT (#UD under TCG), so nothing is measured here; the harness does that.
// Or, with mode=hv-*, enter hv.bin directly with a synthetic boot area.
//
// Command line (QEMU -append): mode=image | mode=sl | mode=hv | mode=hv-vmrun | mode=hv-fault |
// mode=hv-dma | mode=hv-dma-off (the DMA attack self-test, with AMD-Vi on / off),
// and slb=0x<hex> (mode=sl: a 64 KiB-aligned SLB base below 0x08000000, clear of
// everything below; default 0x01000000).
// mode=image (the QEMU harness, platform/qemu/host): module 0 is a boot image
// (abi/harness_channel.hpp) — the RAM the simulator's loader laid out, copied to
// the same addresses — then the SKINIT request on the harness channel (COM2):
// the harness measures SLB[0:length] on the TPM as SKINIT would, answers "go",
// and the stub enters the SL as SKINIT leaves the CPU.
// mode=unmeasured (Bochs, platform/bochs; docs/intel.md "Bochs"): module 0 = a boot image, module 1
// = an abi::UnmeasuredHandoff; no SL, no TPM, no measurement: the stub places the image and enters
// hv.bin with that hand-off and kBareFlagUnmeasured. Its first serial line says UNMEASURED.
// Other modes (QEMU -initrd "sl.bin,hv.bin"): module 0 = sl.bin, module 1 = hv.bin.
#include <cstddef>
#include <cstdint>

#include "abi/bare_hv_entry.hpp"
#include "abi/harness_channel.hpp"
#include "abi/boot_params.hpp"
#include "abi/hv_image.hpp"
#include "abi/launch_outcome.hpp"
#include "abi/slb_layout.hpp"
#include "abi/unmeasured_handoff.hpp"

extern "C" [[noreturn]] void enter_sl(uint32_t slb_base);
extern "C" [[noreturn]] void enter_hv(uint64_t entry, uint64_t boot_area);

extern "C" void* memcpy(void* d, const void* s, size_t n) {
  auto* dp = static_cast<unsigned char*>(d);
  auto* sp = static_cast<const unsigned char*>(s);
  while (n--) *dp++ = *sp++;
  return d;
}
extern "C" void* memset(void* d, int c, size_t n) {
  auto* dp = static_cast<unsigned char*>(d);
  while (n--) *dp++ = static_cast<unsigned char>(c);
  return d;
}

namespace {

using namespace redoubt;

// Where this loader puts things (all below the 512 MiB the tests give QEMU).
constexpr uint64_t kDefaultSlbBase = 0x01000000;  // 64 KiB aligned; slb=0x... on the command line moves it
constexpr uint64_t kBootParams = 0x00F00000;
constexpr uint64_t kHvImage = 0x02000000;      // 4 KiB aligned
constexpr uint64_t kEventLog = 0x03000000;
constexpr uint64_t kEventLogSize = 64 * 1024;
constexpr uint64_t kOutcome = 0x03100000;
constexpr uint64_t kManifest = 0x03200000;
constexpr uint64_t kHvMemory = 0x04000000;
constexpr uint64_t kHvMemorySize = 16ull << 20;

void putc(char c) {
  auto inb = [](uint16_t p) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(p));
    return v;
  };
  for (int i = 0; i < 100000 && !(inb(0x3FD) & 0x20); ++i) {
  }
  asm volatile("outb %0, %1" ::"a"(uint8_t(c)), "Nd"(uint16_t(0x3F8)));
}
void puts(const char* s) {
  for (; *s; ++s) {
    if (*s == '\n') putc('\r');
    putc(*s);
  }
}
void puthex(uint64_t v) {
  puts("0x");
  for (int i = 60; i >= 0; i -= 4) putc("0123456789abcdef"[(v >> i) & 0xF]);
}
[[noreturn]] void fail(const char* why) {
  puts("[stub] FATAL: ");
  puts(why);
  puts("\n");
  asm volatile("outb %0, %1" ::"a"(uint8_t(0x7F)), "Nd"(uint16_t(abi::kDebugExitPort)));
  for (;;) asm volatile("cli; hlt");
}

int memcmp_(const void* a, const void* b, size_t n) {
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < n; ++i)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

bool starts_with(const char* s, const char* p) {
  while (*p)
    if (*s++ != *p++) return false;
  return true;
}
const char* find(const char* s, const char* needle) {
  for (; s && *s; ++s)
    if (starts_with(s, needle)) return s;
  return nullptr;
}

// Multiboot 0.6.96 §3.3: the information structure and module entries.
struct MbModule {
  uint32_t start, end, string, reserved;
};

uint64_t parse_hex(const char* s) {
  uint64_t v = 0;
  if (starts_with(s, "0x")) s += 2;
  for (;; ++s) {
    const char c = *s;
    if (c >= '0' && c <= '9') v = v * 16 + uint64_t(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + uint64_t(c - 'a' + 10);
    else return v;
  }
}

template <class T>
T* at(uint64_t pa) {
  return reinterpret_cast<T*>(pa);
}

// The harness channel, COM2 (abi/harness_channel.hpp); polled, no interrupts.
uint8_t inb(uint16_t p) {
  uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(p));
  return v;
}
void hc_byte(uint8_t b) {
  while (!(inb(abi::kHarnessPort + 5) & 0x20)) {  // LSR.THRE (PC16550D)
  }
  asm volatile("outb %0, %1" ::"a"(b), "Nd"(uint16_t(abi::kHarnessPort)));
}
void hc_bytes(const void* p, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) hc_byte(static_cast<const uint8_t*>(p)[i]);
}
uint8_t hc_receive() {
  while (!(inb(abi::kHarnessPort + 5) & 0x01)) {  // LSR.DR
  }
  return inb(abi::kHarnessPort);
}

// mode=image: copy the boot image's regions, ask the harness for SKINIT's measurement, enter the SL.
// attack=0x<pa> (tests: docs/qemu.md "DMA attack"): this untrusted loader plays a malicious
// bus master with QEMU's edu device (hw/misc/edu.c: BAR0 regs 0x80 src, 0x88 dst, 0x90 count,
// 0x98 cmd; its 4 KiB buffer at device address 0x40000; a DMA starts 100 ms of virtual time
// after the command). Before SKINIT it loads a 2 KiB pattern into edu's buffer (nothing is
// protected yet); right before entering the SL it arms a DMA of that pattern to <pa>, which
// lands ~100 ms later, while the SL or the hypervisor runs behind AMD-Vi.
uint32_t pci_cfg(uint32_t dev, uint32_t off) {
  asm volatile("outl %0, %1" ::"a"(0x80000000u | (dev << 11) | off), "Nd"(uint16_t(0xCF8)));
  uint32_t v;
  asm volatile("inl %1, %0" : "=a"(v) : "Nd"(uint16_t(0xCFC)));
  return v;
}
void pci_cfg_write(uint32_t dev, uint32_t off, uint32_t v) {
  asm volatile("outl %0, %1" ::"a"(0x80000000u | (dev << 11) | off), "Nd"(uint16_t(0xCF8)));
  asm volatile("outl %0, %1" ::"a"(v), "Nd"(uint16_t(0xCFC)));
}
volatile uint64_t* g_edu = nullptr;
constexpr uint64_t kEduBuf = 0x40000, kPatternPage = 0x00800000;
void edu_attack_prepare() {
  for (uint32_t dev = 0; dev < 32; ++dev) {
    if (pci_cfg(dev, 0) != 0x11e81234u) continue;
    pci_cfg_write(dev, 4, pci_cfg(dev, 4) | 0x6);  // PCI command: memory space + bus master
    g_edu = at<volatile uint64_t>(pci_cfg(dev, 0x10) & ~0xFu);
  }
  if (!g_edu) fail("attack=: no edu device (QEMU -device edu)");
  memset(at<void>(kPatternPage), 0xEE, 2048);
  g_edu[0x80 / 8] = kPatternPage;
  g_edu[0x88 / 8] = kEduBuf;
  g_edu[0x90 / 8] = 2048;
  g_edu[0x98 / 8] = 1;  // start, RAM -> buffer
  while (g_edu[0x98 / 8] & 1) {
  }
  puts("[stub] attack: edu's buffer holds a 2 KiB 0xEE pattern\n");
}
void edu_attack_fire(uint64_t target) {
  g_edu[0x80 / 8] = kEduBuf;
  g_edu[0x88 / 8] = target;
  g_edu[0x90 / 8] = 2048;
  g_edu[0x98 / 8] = 1 | 2;  // start, buffer -> RAM
  puts("[stub] attack: edu armed to write the pattern to ");
  puthex(target);
  puts(" in ~100 ms\n");
}
uint64_t attack_target = 0;
uint64_t attack_now_target = 0;  // attack-now=0x<pa>: the same write, completed before SKINIT (the control)

abi::BootImageHeader place_image(uint64_t img, uint64_t img_len) {
  abi::BootImageHeader h;
  if (img_len < sizeof h) fail("boot image: shorter than its header");
  memcpy(&h, at<void>(img), sizeof h);
  if (memcmp_(h.magic, abi::kBootImageMagic, 8) != 0 || h.version != 1) fail("boot image: bad magic or version");
  if (h.region_count > (img_len - sizeof h) / sizeof(abi::BootImageRegion)) fail("boot image: region table too long");
  if (h.slb_base % sl::kSlbAlign || h.slb_base < 0x01000000) fail("boot image: SLB base not 64 KiB aligned above 16 MiB");
  for (uint32_t i = 0; i < h.region_count; ++i) {
    abi::BootImageRegion r;
    memcpy(&r, at<void>(img + sizeof h + i * sizeof r), sizeof r);
    if (r.offset > img_len || r.size > img_len - r.offset) fail("boot image: a region runs past the image");
    // Below 16 MiB live this stub, the BIOS and the module itself: the loader's layout starts above.
    if (r.pa < 0x01000000 || (r.pa < img + img_len && img < r.pa + r.size) || r.pa + r.size > 0x20000000)
      fail("boot image: a region overlaps the stub or the module, or lies beyond 512 MiB");
    memcpy(at<void>(r.pa), at<void>(img + r.offset), r.size);
  }
  return h;
}

[[noreturn]] void launch_image(uint64_t img, uint64_t img_len) {
  const abi::BootImageHeader h = place_image(img, img_len);
  const sl::SlbHeader* slb = at<const sl::SlbHeader>(h.slb_base);
  if (attack_target || attack_now_target) edu_attack_prepare();
  if (attack_now_target) {  // nothing protects memory before SKINIT: the write lands
    edu_attack_fire(attack_now_target);
    while (g_edu[0x98 / 8] & 1) {
    }
    puts("[stub] attack-now: the pattern was written before SKINIT\n");
  }
  puts("[stub] boot image: ");
  puthex(h.region_count);
  puts(" regions placed; SLB at ");
  puthex(h.slb_base);
  puts(", length ");
  puthex(slb->length);
  puts("; SKINIT request to the harness (COM2)\n");
  // What SKINIT would send to the TPM at locality 4: SLB[0:length] as it lies in RAM now.
  hc_bytes(abi::kSkinitMagic, 8);
  const uint64_t base = h.slb_base;
  const uint32_t length = slb->length;
  hc_bytes(&base, 8);
  hc_bytes(&length, 4);
  hc_bytes(at<void>(h.slb_base), length);
  const uint8_t answer = hc_receive();
  if (answer != abi::kSkinitGo) fail("the harness refused SKINIT's measurement (see its output)");
  if (attack_target) edu_attack_fire(attack_target);
  puts("[stub] the harness measured the SLB into PCR17 (DRTM emulated: docs/qemu.md); entering the SL as SKINIT leaves the CPU\n");
  enter_sl(uint32_t(h.slb_base));
}

// mode=unmeasured: the RAM the simulator's loader and SL left (module 0), then hv.bin entered with
// the SL's hand-off (module 1) as the simulator's native-sl engine enters it (platform/fake/
// measured_hv.cpp): the boot area at the end of hv memory, long mode, SSE on, IF = 0.
[[noreturn]] void enter_unmeasured(const MbModule& image, const MbModule& blob) {
  abi::UnmeasuredHandoff u;
  if (blob.end - blob.start != sizeof u) fail("unmeasured: the hand-off module has the wrong size");
  memcpy(&u, at<void>(blob.start), sizeof u);
  if (memcmp_(u.magic, abi::kUnmeasuredHandoffMagic, 8) != 0 || u.size != sizeof u.handoff)
    fail("unmeasured: the hand-off module has a bad magic or size");
  const hal::HypervisorHandoff& ho = u.handoff;
  if (ho.hv_memory_size < abi::kBareBootAreaBytes + (64 << 10) || ho.hv_memory_pa + ho.hv_memory_size > 0x20000000)
    fail("unmeasured: hypervisor memory has no room for the boot area or lies beyond 512 MiB");
  place_image(image.start, image.end - image.start);
  // The BIOS leaves the 8259 PICs programmed with IRQ0 (the PIT, 18.2 Hz) at vector 8: delivered in
  // hv.bin's `sti; nop; cli` host-timer window it arrives as vector 8 without an error code, and
  // hv.bin's IDT reports a #DF. Both PICs masked (OCW1 = 0xFF, 8259A data sheet), as the SL's entry
  // state has it on the simulator (no PIC); the LAPIC, which hv.bin uses, is not affected.
  asm volatile("outb %0, $0x21" ::"a"(uint8_t(0xFF)));
  asm volatile("outb %0, $0xA1" ::"a"(uint8_t(0xFF)));
  const uint64_t area = ho.hv_memory_pa + ho.hv_memory_size - abi::kBareBootAreaBytes;
  memset(at<void>(area), 0, abi::kBarePageTablesOffset);
  auto* e = at<abi::BareHvEntry>(area);
  e->hdr.magic = abi::kBareHvMagic;
  e->hdr.stack_top = area + abi::kBareStackTopOffset;
  e->hdr.page_tables_pa = area + abi::kBarePageTablesOffset;
  e->hdr.outcome_pa = u.outcome_pa;
  e->hdr.flags = abi::kBareFlagUnmeasured;
  e->handoff = ho;
  e->handoff.hv_memory_size -= abi::kBareBootAreaBytes;
  puts("[stub] boot image placed; hv.bin at ");
  puthex(ho.hv_image_pa);
  puts(", boot area at ");
  puthex(area);
  puts("; entering the hypervisor UNMEASURED\n");
  // As the SL leaves the CPU for hv.bin: SSE usable (CR0.MP, EM = TS = 0, CR4.OSFXSR/OSXMMEXCPT,
  // Intel SDM vol. 3A §13.1.3), EFER.NXE (the hypervisor's page tables use XD).
  uint64_t cr0, cr4;
  asm volatile("mov %%cr0, %0" : "=r"(cr0));
  asm volatile("mov %0, %%cr0" ::"r"((cr0 | (1u << 1)) & ~uint64_t((1u << 2) | (1u << 3))));
  asm volatile("mov %%cr4, %0" : "=r"(cr4));
  asm volatile("mov %0, %%cr4" ::"r"(cr4 | (1u << 9) | (1u << 10)));
  uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xC0000080u));
  asm volatile("wrmsr" ::"a"(lo | (1u << 11)), "d"(hi), "c"(0xC0000080u));
  enter_hv(ho.hv_entry_pa, area);
}

// COM1 and COM2 as 115200 8N1, FIFOs on (PC16550D: LCR.DLAB, divisor 1, LCR = 0x03). QEMU
// ignores the word length; Bochs keeps only the low LCR[1:0] + 5 bits of every byte, and its
// power-on LCR is 0 (5 bits): a loader that sets the line up is what firmware would have done.
void uart_init(uint16_t base) {
  auto out = [](uint16_t p, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(p)); };
  out(base + 1, 0x00);  // IER: no interrupts
  out(base + 3, 0x80);  // LCR.DLAB
  out(base + 0, 0x01);  // DLL: 115200 baud
  out(base + 1, 0x00);  // DLM
  out(base + 3, 0x03);  // 8 data bits, no parity, 1 stop bit
  out(base + 2, 0xC7);  // FCR: FIFOs on and cleared
  out(base + 4, 0x03);  // MCR: DTR, RTS
}

}  // namespace

extern "C" [[noreturn]] void stub_main(uint32_t mbi_pa) {
  uart_init(0x3F8);
  uart_init(abi::kHarnessPort);
  const uint32_t* mbi = at<uint32_t>(mbi_pa);
  const uint32_t flags = mbi[0];
  const char* cmdline = (flags & (1u << 2)) ? at<const char>(mbi[4]) : "";
  if (!(flags & (1u << 3)) || mbi[5] < 1) fail("need multiboot modules: -initrd IMAGE or -initrd sl.bin,hv.bin");
  const MbModule* mods = at<const MbModule>(mbi[6]);
  if (find(cmdline, "mode=unmeasured")) {
    // The machine's first serial line (docs/intel.md "Bochs"): nothing after it is measured.
    puts("UNMEASURED: Redoubt test boot (Bochs, no TPM, no DRTM): nothing is measured, no PCR, no quote; never a launch\n");
    if (mbi[5] < 2) fail("mode=unmeasured needs two multiboot modules: the boot image and the hand-off");
    enter_unmeasured(mods[0], mods[1]);
  }
  if (const char* a = find(cmdline, " attack=")) attack_target = parse_hex(a + 8);
  if (const char* a = find(cmdline, "attack-now=")) attack_now_target = parse_hex(a + 11);
  if (find(cmdline, "mode=image")) {
    puts("[stub] Redoubt QEMU boot stub: mode=image\n");
    launch_image(mods[0].start, mods[0].end - mods[0].start);
  }
  if (mbi[5] < 2) fail("need two multiboot modules: -initrd sl.bin,hv.bin");
  const uint64_t sl_src = mods[0].start, sl_len = mods[0].end - mods[0].start;
  const uint64_t hv_src = mods[1].start, hv_len = mods[1].end - mods[1].start;
  const char* mode = find(cmdline, "mode=");
  mode = mode ? mode + 5 : "sl";
  puts("[stub] Redoubt QEMU boot stub: mode=");
  puts(mode);
  puts("\n");

  // hv.bin at a page-aligned address.
  if (hv_len < sizeof(hv::HvImageHeader)) fail("hv.bin is smaller than its header");
  memcpy(at<void>(kHvImage), at<void>(hv_src), hv_len);
  hv::HvImageHeader ih;
  memcpy(&ih, at<void>(kHvImage), sizeof ih);
  if (ih.entry_offset >= hv_len) fail("hv.bin entry offset is outside the image");
  memset(at<void>(kOutcome), 0, 4096);

  const char* slb_arg = find(cmdline, "slb=");
  const uint64_t kSlbBase = slb_arg ? parse_hex(slb_arg + 4) : kDefaultSlbBase;
  if (kSlbBase % sl::kSlbAlign || kSlbBase < 0x01000000 || kSlbBase >= 0x08000000 ||
      (kSlbBase < kHvMemory + kHvMemorySize && kSlbBase + sl::kSlbSize > kHvImage))
    fail("slb= must be 64 KiB aligned in [0x01000000, 0x02000000) or [0x05000000, 0x08000000)");
  if (starts_with(mode, "sl")) {
    if (sl_len > sl::kMaxMeasuredLength) fail("sl.bin is larger than 64 KiB - 8");
    // The SLB: the image, then garbage (the SL must not rely on zeroed memory
    // beyond its measured length), then the boot-params pointer.
    memset(at<void>(kSlbBase), 0xCC, sl::kSlbSize);
    memcpy(at<void>(kSlbBase), at<void>(sl_src), sl_len);
    const uint64_t bp_pa = kBootParams;
    memcpy(at<void>(kSlbBase + sl::kBootParamsPtrOffset), &bp_pa, 8);
    sl::BootParams bp{};
    memcpy(bp.magic, sl::kBootParamsMagic, 8);
    bp.size = sizeof bp;
    bp.version = 1;
    bp.hv_image = {kHvImage, hv_len};
    bp.hv_manifest = {kManifest, 4096};  // no signed manifest: the SL refuses (after the TPM driver exists)
    bp.event_log = {kEventLog, kEventLogSize};
    bp.hv_memory = {kHvMemory, kHvMemorySize};
    bp.outcome = {kOutcome, 4096};
    memcpy(at<void>(kBootParams), &bp, sizeof bp);
    puts("[stub] SLB at ");
    puthex(kSlbBase);
    puts(", boot params at ");
    puthex(kBootParams);
    puts("; entering the SL as SKINIT leaves the CPU\n");
    enter_sl(uint32_t(kSlbBase));
  }

  // A synthetic boot area, as the SL's hand-off (platform/x86/hv_handoff.cpp) builds it.
  const uint64_t area = kHvMemory + kHvMemorySize - abi::kBareBootAreaBytes;
  memset(at<void>(area), 0, abi::kBarePageTablesOffset);
  auto* e = at<abi::BareHvEntry>(area);
  e->hdr.magic = abi::kBareHvMagic;
  e->hdr.stack_top = area + abi::kBareStackTopOffset;
  e->hdr.page_tables_pa = area + abi::kBarePageTablesOffset;
  e->hdr.outcome_pa = kOutcome;
  e->hdr.flags = find(mode, "hv-vmrun") == mode     ? abi::kBareFlagSelfTestVmrun
                 : find(mode, "hv-fault") == mode   ? abi::kBareFlagSelfTestFault
                 : find(mode, "hv-dma-off") == mode ? abi::kBareFlagSelfTestDma | abi::kBareFlagSelfTestDmaNoProtection
                 : find(mode, "hv-dma") == mode     ? abi::kBareFlagSelfTestDma
                                                    : 0;
  hal::HypervisorHandoff& h = e->handoff;
  h.slb_base = kSlbBase;
  h.hv_image_pa = kHvImage;
  h.hv_image_size = hv_len;
  h.hv_entry_pa = kHvImage + ih.entry_offset;
  h.event_log_pa = kEventLog;
  h.event_log_cap = kEventLogSize;
  memcpy(h.hv_name, "qemu-stub", 10);
  memcpy(h.hv_version, "synthetic", 10);
  h.hv_memory_pa = kHvMemory;
  h.hv_memory_size = kHvMemorySize - abi::kBareBootAreaBytes;
  puts("[stub] hv.bin at ");
  puthex(kHvImage);
  puts(", boot area at ");
  puthex(area);
  puts("; entering the hypervisor directly\n");
  enter_hv(h.hv_entry_pa, area);
}
