#include "tests/platform/sim/svm/guest_env.hpp"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace redoubt::test {

using namespace redoubt::x86;

std::string guest_bin(const std::string& name) {
  return name.starts_with("/") ? name : std::string(RD_GUEST_DIR) + "/" + name + ".bin";
}

uint64_t GuestEnv::rd64(uint64_t a) {
  uint64_t v;
  std::memcpy(&v, gpa(a), 8);
  return v;
}
void GuestEnv::wr64(uint64_t a, uint64_t v) { std::memcpy(gpa(a), &v, 8); }

uint64_t GuestEnv::alloc_guest_table() {
  const uint64_t a = next_gtable_;
  next_gtable_ += 4096;
  if (next_gtable_ > 0x100000) throw std::runtime_error("guest table area full");
  std::memset(gpa(a, 4096), 0, 4096);
  return a;
}

uint64_t GuestEnv::alloc_nested_table() {
  const uint64_t a = next_ntable_;
  next_ntable_ += 4096;
  if (next_ntable_ > kGuestBase) throw std::runtime_error("nested table area full");
  std::memset(m.mem().map(a, 4096), 0, 4096);
  return a;
}

uint64_t GuestEnv::guest_map(uint64_t va, uint64_t pa, unsigned shift, uint64_t flags) {
  uint64_t table = pml4_;
  for (int level = 4;; --level) {
    const unsigned sh = 12 + 9 * (level - 1);
    const uint64_t ea = table + ((va >> sh) & 0x1FF) * 8;
    if (sh == shift) {
      wr64(ea, pa | flags | (shift > 12 ? kPteLarge : 0));
      return table;
    }
    uint64_t e = rd64(ea);
    if (!(e & kPtePresent)) {
      e = alloc_guest_table() | kPtePresent | kPteWrite | kPteUser;
      wr64(ea, e);
    }
    table = e & kPteAddrMask;
  }
}

void GuestEnv::nested_map(uint64_t g, uint64_t hpa, unsigned shift, uint64_t flags) {
  uint64_t table = npml4_;
  auto& mem = m.mem();
  for (int level = 4;; --level) {
    const unsigned sh = 12 + 9 * (level - 1);
    uint8_t* p = mem.map(table + ((g >> sh) & 0x1FF) * 8, 8);
    if (sh == shift) {
      const uint64_t e = hpa | flags | (shift > 12 ? kPteLarge : 0);
      std::memcpy(p, &e, 8);
      return;
    }
    uint64_t e;
    std::memcpy(&e, p, 8);
    if (!(e & kPtePresent)) {
      e = alloc_nested_table() | kPtePresent | kPteWrite | kPteUser;
      std::memcpy(p, &e, 8);
    }
    table = e & kPteAddrMask;
  }
}

void GuestEnv::nested_unmap_4k(uint64_t g) {
  uint64_t table = npml4_;
  auto& mem = m.mem();
  for (int level = 4; level >= 1; --level) {
    const unsigned sh = 12 + 9 * (level - 1);
    uint8_t* p = mem.map(table + ((g >> sh) & 0x1FF) * 8, 8);
    uint64_t e;
    std::memcpy(&e, p, 8);
    if (level == 1) {
      e = 0;
      std::memcpy(p, &e, 8);
      return;
    }
    if (e & kPteLarge) throw std::runtime_error("nested_unmap_4k on a large nested page");
    table = e & kPteAddrMask;
  }
}

void GuestEnv::set_msr_intercept(uint32_t msr, bool read, bool write) {
  uint32_t base = msr <= 0x1FFF ? 0 : msr >= 0xC0010000 ? 0x1000 : 0x800;
  const uint32_t bit = (msr & 0x1FFF) * 2;
  uint8_t* pm = m.mem().map(kMsrpm, svm::kMsrpmSize);
  if (read) pm[base + bit / 8] |= uint8_t(1u << (bit % 8));
  if (write) pm[base + (bit + 1) / 8] |= uint8_t(1u << ((bit + 1) % 8));
}

void GuestEnv::set_io_intercept(uint16_t port) { m.mem().map(kIopm, svm::kIopmSize)[port / 8] |= uint8_t(1u << (port % 8)); }

GuestEnv::GuestEnv(const std::string& program, GuestEnvOptions opt) {
  auto& mem = m.mem();
  std::memset(mem.map(0, kGuestBase), 0, kGuestBase);
  // Program.
  std::ifstream f(guest_bin(program), std::ios::binary);
  if (!f) throw std::runtime_error("missing guest program " + guest_bin(program));
  std::vector<uint8_t> bin((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::memcpy(gpa(kCode, bin.size()), bin.data(), bin.size());
  // Nested tables: guest-physical [0, nested_bytes) -> host-physical kGuestBase + gpa.
  npml4_ = alloc_nested_table();
  const uint64_t nstep = 1ull << opt.nested_page_shift;
  for (uint64_t g = 0; g < opt.nested_bytes; g += nstep)
    nested_map(g, kGuestBase + g, opt.nested_page_shift, kPtePresent | kPteWrite | kPteUser);
  // Guest paging: identity map of the low 8 MiB.
  pml4_ = alloc_guest_table();
  const uint64_t gstep = 1ull << opt.guest_page_shift;
  for (uint64_t va = 0; va < (8ull << 20); va += gstep)
    guest_map(va, va, opt.guest_page_shift, kPtePresent | kPteWrite);
  // GDT: null, 64-bit code (0x08), data (0x10), 64-bit TSS (0x18, 16 bytes).
  wr64(kGdt + 0x00, 0);
  wr64(kGdt + 0x08, 0x00AF9B000000FFFFull);
  wr64(kGdt + 0x10, 0x00CF93000000FFFFull);
  wr64(kGdt + 0x18, 0x0000890000000067ull | ((kTss & 0xFFFFFF) << 16) | (((kTss >> 24) & 0xFF) << 56));
  wr64(kGdt + 0x20, kTss >> 32);
  // IDT: 256 interrupt gates to the program's vector stubs.
  for (unsigned v = 0; v < 256; ++v) {
    const uint64_t off = kVectors + 16 * v;
    const uint64_t lo = (off & 0xFFFF) | (0x08ull << 16) | (0x8Eull << 40) | (((off >> 16) & 0xFFFF) << 48);
    wr64(kIdt + 16 * v, lo);
    wr64(kIdt + 16 * v + 8, off >> 32);
  }
  // VMCB.
  std::memset(mem.map(kVmcb, 4096), 0, 4096);
  std::memset(mem.map(kIopm, svm::kIopmSize), 0, svm::kIopmSize);
  std::memset(mem.map(kMsrpm, svm::kMsrpmSize), 0, svm::kMsrpmSize);
  auto& v = vmcb();
  auto& c = v.control;
  c.intercept_misc1 = svm::kInterceptHlt | svm::kInterceptShutdown | svm::kInterceptIoioProt | svm::kInterceptMsrProt;
  c.intercept_misc2 = svm::kInterceptVmrun | svm::kInterceptVmmcall;
  c.iopm_base_pa = kIopm;
  c.msrpm_base_pa = kMsrpm;
  c.guest_asid = 1;
  c.np_enable = svm::kNpEnable;
  c.n_cr3 = npml4_;
  auto& s = v.save;
  s.cs = {0x08, 0x29B, 0xFFFFFFFF, 0};
  s.ss = s.ds = s.es = s.fs = s.gs = {0x10, 0xC93, 0xFFFFFFFF, 0};
  s.gdtr = {0, 0, 0x27, kGdt};
  s.idtr = {0, 0, 0xFFF, kIdt};
  s.tr = {0x18, 0x8B, 0x67, kTss};
  s.efer = kEferLme | kEferLma | kEferSvme | kEferNxe;
  s.cr0 = kCr0Pe | kCr0Pg | kCr0Wp | 0x10;
  s.cr3 = pml4_;
  s.cr4 = kCr4Pae;
  s.dr6 = 0xFFFF0FF0;
  s.dr7 = 0x400;
  s.rflags = 2;
  s.rip = kCode;
  s.rsp = kStackTop;
  s.g_pat = 0x0007040600070406ull;
  if (!svm.enable(kHsave)) throw std::runtime_error("enable failed");
  svm.set_run_limit(100'000'000);
}

}  // namespace redoubt::test
