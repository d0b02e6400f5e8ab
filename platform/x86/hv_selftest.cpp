#include "platform/x86/hv_selftest.hpp"

#include <cstring>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/intercepts.hpp"
#include "arch/svm/vmcb.hpp"
#include "arch/x86/paging.hpp"
#include "platform/x86/idt.hpp"
#include "platform/x86/port_io.hpp"

extern "C" char selftest_guest[];
extern "C" char selftest_guest_loop[];

namespace redoubt::x86 {
namespace {

constexpr uint64_t kGuestFsBase = 0x0000123456789ABCull;
constexpr uint64_t kGuestKernelGs = 0x00004444AAAA5555ull;
constexpr uint64_t kGuestLstar = 0x0000111122223333ull;
constexpr uint64_t kGuestLstarWritten = 0x00007A5A5A5A5A5Aull;  // selftest_guest.S
constexpr uint64_t kHostKernelGs = 0x00006666BBBB7777ull;
constexpr uint8_t kSelfTestVector = 0x30;

void count_irq(void* counter, uint8_t) {
  auto* n = static_cast<volatile uint32_t*>(counter);
  *n = *n + 1;
}

uint64_t pattern(unsigned i) { return 0x0101010101010101ull * (i + 1) ^ 0x8000000000000000ull; }

}  // namespace

Status vmrun_selftest(hal::Platform& platform, BareSvm& svm, const abi::BareHvEntry& entry, uint32_t round_trips) {
  auto& c = platform.console();
  const hal::HypervisorHandoff& h = entry.handoff;
  if (h.hv_memory_pa % 4096 || h.hv_memory_size < 64 * 1024)
    return Status::fail(Err::malformed, "self-test: needs 64 KiB of page-aligned hypervisor memory, got 0x%llx +0x%llx",
                        (unsigned long long)h.hv_memory_pa, (unsigned long long)h.hv_memory_size);
  uint8_t* mem = platform.mem().map(h.hv_memory_pa, 64 * 1024);
  if (!mem) return Status::fail(Err::fault, "self-test: hypervisor memory outside RAM");
  std::memset(mem, 0, 64 * 1024);
  const uint64_t vmcb_pa = h.hv_memory_pa, hsave_pa = vmcb_pa + 0x1000, npt_pa = vmcb_pa + 0x2000,
                 result_pa = vmcb_pa + 0x4000, stack_top = vmcb_pa + 0x6000;

  if (!svm.available()) return Status::fail(Err::unsupported, "self-test: this CPU has no AMD-V with nested paging");
  REDOUBT_TRY(svm.enable(hsave_pa));

  // Nested page tables: guest-physical = host-physical for 512 GiB, 1 GiB pages;
  // every NPT access is a user access, so U = 1 (APM vol. 2 §15.25.5).
  auto* npml4 = reinterpret_cast<uint64_t*>(npt_pa);
  auto* npdpt = reinterpret_cast<uint64_t*>(npt_pa + 0x1000);
  npml4[0] = (npt_pa + 0x1000) | x86::kPtePresent | x86::kPteWrite | x86::kPteUser;
  for (uint64_t i = 0; i < 512; ++i)
    npdpt[i] = (i << 30) | x86::kPtePresent | x86::kPteWrite | x86::kPteUser | x86::kPteLarge;

  auto& v = *reinterpret_cast<svm::Vmcb*>(vmcb_pa);
  v.control.intercept_exc = 0xFFFFFFFFu;  // a guest fault shows as an exit, not a shutdown
  v.control.intercept_misc1 = svm::kInterceptHlt | svm::kInterceptShutdown;
  v.control.intercept_misc2 = svm::kInterceptVmrun | svm::kInterceptVmmcall;  // VMRUN: required (§15.5.1)
  v.control.guest_asid = 1;
  v.control.tlb_control = 1;  // flush all on the first run
  v.control.np_enable = 1;
  v.control.n_cr3 = npt_pa;

  struct [[gnu::packed]] {
    uint16_t limit;
    uint64_t base;
  } gdtr;
  asm volatile("sgdt %0" : "=m"(gdtr));
  uint64_t cr3;
  asm volatile("mov %%cr3, %0" : "=r"(cr3));
  svm::VmcbSave& s = v.save;
  const uint16_t code = 0x0B | 0x10 | 0x80 | 0x200;          // type B, S, P, L (VMCB attribute format)
  const uint16_t data = 0x03 | 0x10 | 0x80 | 0x400 | 0x800;  // type 3, S, P, D/B, G
  s.cs = {0x08, code, 0xFFFFFFFF, 0};
  s.ds = s.es = s.ss = s.gs = {0x10, data, 0xFFFFFFFF, 0};
  s.fs = {0x10, data, 0xFFFFFFFF, kGuestFsBase};
  s.gdtr = {0, 0, gdtr.limit, gdtr.base};
  s.idtr = {0, 0, 0, 0};
  s.ldtr = {0, 0x82, 0, 0};
  s.tr = {0, 0x8B, 0x67, 0};
  s.kernel_gs_base = kGuestKernelGs;
  s.lstar = kGuestLstar;
  s.efer = x86::kEferLme | x86::kEferLma | x86::kEferNxe | x86::kEferSvme;
  s.cr0 = x86::kCr0Pe | (1ull << 1) | (1ull << 4) | (1ull << 5) | x86::kCr0Wp | x86::kCr0Pg;
  s.cr3 = cr3;  // the hypervisor's identity map, reached through the identity NPT
  s.cr4 = x86::kCr4Pae;
  s.dr6 = 0xFFFF0FF0;
  s.dr7 = 0x400;
  s.rflags = 0x2;
  s.rip = reinterpret_cast<uint64_t>(selftest_guest);
  s.rsp = stack_top;
  s.g_pat = 0x0007040600070406ull;
  s.rax = pattern(0);

  hal::GuestGprs in{};
  uint64_t* r = &in.rax;
  for (unsigned i = 0; i < 16; ++i) r[i] = pattern(i);
  in.rdi = result_pa;
  hal::GuestGprs g = in;

  wrmsr(kMsrKernelGsBase, kHostKernelGs);
  const uint64_t host_lstar = rdmsr(kMsrLstar);
  svm.vmrun(vmcb_pa, g, nullptr);
  if (v.control.exitcode != svm::kExitVmmcall)
    return Status::fail(Err::internal, "self-test: #VMEXIT 0x%llx (%s) at RIP 0x%llx, info1 0x%llx, expected VMMCALL",
                        (unsigned long long)v.control.exitcode, svm::exit_code_name(v.control.exitcode),
                        (unsigned long long)s.rip, (unsigned long long)v.control.exitinfo1);

  static const char* const kNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                         "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  const uint64_t* out = &g.rax;
  unsigned ok = 0;
  for (unsigned i = 0; i < 16; ++i) {
    if (i == 4) continue;  // RSP lives in the VMCB
    const uint64_t got = i == 0 ? s.rax : out[i];
    const uint64_t want = ~(i == 0 ? pattern(0) : r[i]);
    c.print("[hv] self-test: guest %s = 0x%016llx %s\n", kNames[i], (unsigned long long)got,
            got == want ? "ok" : "MISMATCH");
    if (got == want) ++ok;
  }
  const auto* res = reinterpret_cast<const uint64_t*>(result_pa);
  const bool fs_ok = res[0] == kGuestFsBase, kgs_ok = res[1] == kGuestKernelGs, lstar_ok = res[2] == kGuestLstar;
  const bool vmsave_ok = s.lstar == kGuestLstarWritten;
  const bool host_ok = rdmsr(kMsrKernelGsBase) == kHostKernelGs && rdmsr(kMsrLstar) == host_lstar;
  c.print("[hv] self-test: %u of 15 GPRs exchanged; VMLOAD fs.base %s, KernelGsBase %s, LSTAR %s; VMSAVE LSTAR %s; "
          "host MSRs %s\n",
          ok, fs_ok ? "ok" : "BAD", kgs_ok ? "ok" : "BAD", lstar_ok ? "ok" : "BAD", vmsave_ok ? "ok" : "BAD",
          host_ok ? "restored" : "CLOBBERED");
  if (ok != 15 || !fs_ok || !kgs_ok || !lstar_ok || !vmsave_ok || !host_ok)
    return Status::fail(Err::internal, "self-test: the world switch lost state");

  // Round trips: the guest loops on VMMCALL; nRIP is not filled under QEMU TCG,
  // so advance RIP by the instruction's 3 bytes.
  s.rip = reinterpret_cast<uint64_t>(selftest_guest_loop);
  v.control.tlb_control = 0;
  const uint64_t t0 = svm.rdtsc();
  for (uint32_t i = 0; i < round_trips; ++i) {
    svm.vmrun(vmcb_pa, g, nullptr);
    if (v.control.exitcode != svm::kExitVmmcall)
      return Status::fail(Err::internal, "self-test: round trip %u ended with #VMEXIT 0x%llx", i,
                          (unsigned long long)v.control.exitcode);
    s.rip += 3;
  }
  const uint64_t t1 = svm.rdtsc();
  c.print("[hv] self-test: %u VMRUN/VMMCALL round trips, %llu TSC ticks each\n", round_trips,
          (unsigned long long)(round_trips ? (t1 - t0) / round_trips : 0));
  c.print("[hv] self-test: VMRUN world switch ok\n");

  // The interrupt path the host timer uses after #VMEXIT(INTR): IDT gate ->
  // isr.S stub -> registered handler -> IRETQ back here, registers intact.
  volatile uint32_t taken = 0;
  idt_set_irq_handler(kSelfTestVector, &count_irq, const_cast<uint32_t*>(&taken));
  uint64_t kept = 0x1234567890ABCDEFull;
  asm volatile("int %1" : "+b"(kept) : "i"(kSelfTestVector) : "memory");
  idt_set_irq_handler(kSelfTestVector, nullptr, nullptr);
  if (taken != 1 || kept != 0x1234567890ABCDEFull)
    return Status::fail(Err::internal, "self-test: INT 0x%x was handled %u times, RBX %s", kSelfTestVector, taken,
                        kept == 0x1234567890ABCDEFull ? "kept" : "clobbered");
  c.print("[hv] self-test: interrupt vector 0x%x handled once through the IDT, registers kept\n", kSelfTestVector);
  return Status::ok();
}

}  // namespace redoubt::x86
