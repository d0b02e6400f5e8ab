// NativeRig and SimRig (see sse_rig.hpp).
#include "arch/x86/paging.hpp"
#include "tests/platform/sim/cpu/sse_rig.hpp"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <stdexcept>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/intercepts.hpp"
#include "arch/x86/sse.hpp"

// void rd_sse_native_call(RegState* s, const void* code): loads every register from *s,
// calls code (one instruction followed by RET), stores every register back.
asm(R"(
  .text
  .globl rd_sse_native_call
  .type rd_sse_native_call, @function
rd_sse_native_call:
  push %rbx
  push %rbp
  push %r12
  push %r13
  push %r14
  push %r15
  push %rdi
  push %rsi
  ldmxcsr 392(%rdi)
  movdqu 0(%rdi), %xmm0
  movdqu 16(%rdi), %xmm1
  movdqu 32(%rdi), %xmm2
  movdqu 48(%rdi), %xmm3
  movdqu 64(%rdi), %xmm4
  movdqu 80(%rdi), %xmm5
  movdqu 96(%rdi), %xmm6
  movdqu 112(%rdi), %xmm7
  movdqu 128(%rdi), %xmm8
  movdqu 144(%rdi), %xmm9
  movdqu 160(%rdi), %xmm10
  movdqu 176(%rdi), %xmm11
  movdqu 192(%rdi), %xmm12
  movdqu 208(%rdi), %xmm13
  movdqu 224(%rdi), %xmm14
  movdqu 240(%rdi), %xmm15
  pushq 384(%rdi)
  popfq
  mov 256(%rdi), %rax
  mov 264(%rdi), %rcx
  mov 272(%rdi), %rdx
  mov 280(%rdi), %rbx
  mov 296(%rdi), %rbp
  mov 304(%rdi), %rsi
  mov 320(%rdi), %r8
  mov 328(%rdi), %r9
  mov 336(%rdi), %r10
  mov 344(%rdi), %r11
  mov 352(%rdi), %r12
  mov 360(%rdi), %r13
  mov 368(%rdi), %r14
  mov 376(%rdi), %r15
  mov 312(%rdi), %rdi
  call *(%rsp)
  push %rdi
  mov 16(%rsp), %rdi
  popq 312(%rdi)
  pushfq
  popq 384(%rdi)
  mov %rax, 256(%rdi)
  mov %rcx, 264(%rdi)
  mov %rdx, 272(%rdi)
  mov %rbx, 280(%rdi)
  mov %rbp, 296(%rdi)
  mov %rsi, 304(%rdi)
  mov %r8, 320(%rdi)
  mov %r9, 328(%rdi)
  mov %r10, 336(%rdi)
  mov %r11, 344(%rdi)
  mov %r12, 352(%rdi)
  mov %r13, 360(%rdi)
  mov %r14, 368(%rdi)
  mov %r15, 376(%rdi)
  stmxcsr 392(%rdi)
  movdqu %xmm0, 0(%rdi)
  movdqu %xmm1, 16(%rdi)
  movdqu %xmm2, 32(%rdi)
  movdqu %xmm3, 48(%rdi)
  movdqu %xmm4, 64(%rdi)
  movdqu %xmm5, 80(%rdi)
  movdqu %xmm6, 96(%rdi)
  movdqu %xmm7, 112(%rdi)
  movdqu %xmm8, 128(%rdi)
  movdqu %xmm9, 144(%rdi)
  movdqu %xmm10, 160(%rdi)
  movdqu %xmm11, 176(%rdi)
  movdqu %xmm12, 192(%rdi)
  movdqu %xmm13, 208(%rdi)
  movdqu %xmm14, 224(%rdi)
  movdqu %xmm15, 240(%rdi)
  add $16, %rsp
  pop %r15
  pop %r14
  pop %r13
  pop %r12
  pop %rbp
  pop %rbx
  ldmxcsr rd_sse_default_mxcsr(%rip)
  ret
  .size rd_sse_native_call, .-rd_sse_native_call
  .section .rodata
rd_sse_default_mxcsr:
  .long 0x1f80
  .text
)");

extern "C" void rd_sse_native_call(redoubt::test::sse::RegState* s, const void* code);

namespace redoubt::test::sse {

namespace {
sigjmp_buf g_jmp;
int g_signal = 0;
RegState g_fault_regs;

void on_signal(int sig, siginfo_t*, void* ctx) {
  g_signal = sig;
  const auto* uc = static_cast<const ucontext_t*>(ctx);
  if (uc->uc_mcontext.fpregs) {
    g_fault_regs.mxcsr = uc->uc_mcontext.fpregs->mxcsr;
    for (unsigned i = 0; i < 16; ++i) std::memcpy(g_fault_regs.xmm[i].q, &uc->uc_mcontext.fpregs->_xmm[i], 16);
  }
  siglongjmp(g_jmp, 1);
}
}  // namespace

NativeRig::NativeRig() {
  void* d = mmap(reinterpret_cast<void*>(kData), kDataSize, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  void* c = mmap(reinterpret_cast<void*>(kCode), 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  ok_ = d == reinterpret_cast<void*>(kData) && c == reinterpret_cast<void*>(kCode);
}

Outcome NativeRig::run(const std::vector<uint8_t>& insn, const RegState& in, const std::vector<uint8_t>& data) {
  if (!ok_) throw std::runtime_error("native windows not mapped");
  auto* code = reinterpret_cast<uint8_t*>(kCode);
  std::memcpy(code, insn.data(), insn.size());
  code[insn.size()] = 0xC3;  // RET
  std::memcpy(reinterpret_cast<void*>(kData), data.data(), kDataSize);
  Outcome out;
  out.regs = in;
  struct sigaction sa = {}, old_fpe, old_segv, old_bus, old_ill;
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGFPE, &sa, &old_fpe);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
  sigaction(SIGILL, &sa, &old_ill);
  g_signal = 0;
  if (sigsetjmp(g_jmp, 1) == 0) {
    rd_sse_native_call(&out.regs, code);
  } else {
    uint32_t def = x86::kMxcsrReset;
    asm volatile("ldmxcsr %0" : : "m"(def));
    out.vector = g_signal == SIGFPE ? x86::kVectorXM : g_signal == SIGILL ? 6 : 13;
    out.regs = in;
    out.regs.mxcsr = g_fault_regs.mxcsr;
    std::memcpy(out.regs.xmm, g_fault_regs.xmm, sizeof out.regs.xmm);
  }
  sigaction(SIGFPE, &old_fpe, nullptr);
  sigaction(SIGSEGV, &old_segv, nullptr);
  sigaction(SIGBUS, &old_bus, nullptr);
  sigaction(SIGILL, &old_ill, nullptr);
  out.data.assign(reinterpret_cast<uint8_t*>(kData), reinterpret_cast<uint8_t*>(kData) + kDataSize);
  return out;
}

SimRig::SimRig() {
  auto& c = cpu_;
  // 64-bit mode needs paging (APM vol. 2 §14.6): identity-map the rig's 4 MiB with one 1 GiB page.
  constexpr uint64_t kPml4 = 0x3F0000, kPdpt = 0x3F1000;
  const uint64_t pml4e = kPdpt | x86::kPtePresent | x86::kPteWrite, pdpte = x86::kPtePresent | x86::kPteWrite | x86::kPteLarge;
  std::memcpy(mem_.map(kPml4, 8), &pml4e, 8);
  std::memcpy(mem_.map(kPdpt, 8), &pdpte, 8);
  c.cr3 = kPml4;
  c.cr4 |= x86::kCr4Pae;
  c.efer = x86::kEferLme | x86::kEferLma | x86::kEferNxe;
  c.cr0 = x86::kCr0Pe | x86::kCr0Et | x86::kCr0Pg;
  c.cr4 |= x86::kCr4Osfxsr | x86::kCr4Osxmmexcpt;
  c.guest = true;
  c.asid = 1;
  c.ctl.icpt_exc = 0xFFFFFFFF;
  c.ctl.icpt_misc1 = svm::kInterceptHlt;
}

int SimRig::run_raw(const std::vector<uint8_t>& code) {
  uint8_t* p = mem_.map(kCode, 4096);
  std::memcpy(p, code.data(), code.size());
  p[code.size()] = 0xF4;  // HLT (intercepted): the end of the snippet
  cpu_.code_modified_externally();
  cpu_.rip() = kCode;
  cpu_.halted = false;
  const auto st = cpu_.run(64);
  if (st != sim::cpu::Stop::vmexit) throw std::runtime_error("snippet did not end in an exit");
  if (cpu_.exitcode == svm::kExitHlt) return -1;
  if (cpu_.exitcode >= svm::kExitExcp0 && cpu_.exitcode < svm::kExitExcp0 + 32)
    return int(cpu_.exitcode - svm::kExitExcp0);
  throw std::runtime_error("unexpected exit code");
}

Outcome SimRig::run(const std::vector<uint8_t>& insn, const RegState& in, const std::vector<uint8_t>& data) {
  auto& c = cpu_;
  for (unsigned i = 0; i < 16; ++i) c.sse.xmm[i] = in.xmm[i];
  c.sse.mxcsr = in.mxcsr;
  for (unsigned i = 0; i < 16; ++i) c.gpr[i] = in.gpr[i];
  c.set_rflags(in.rflags);
  std::memcpy(mem_.map(kData, kDataSize), data.data(), kDataSize);
  Outcome out;
  out.vector = run_raw(insn);
  for (unsigned i = 0; i < 16; ++i) out.regs.xmm[i] = c.sse.xmm[i];
  out.regs.mxcsr = c.sse.mxcsr;
  for (unsigned i = 0; i < 16; ++i) out.regs.gpr[i] = c.gpr[i];
  out.regs.gpr[4] = in.gpr[4];
  out.regs.rflags = c.rflags();
  const uint8_t* d = mem_.map(kData, kDataSize);
  out.data.assign(d, d + kDataSize);
  return out;
}

}  // namespace redoubt::test::sse
