// NativeRunner (native.hpp). The child's loop: copy the sequence + a jump to rd_difftest_exit to
// kCode and the scratch page to kScratch, enter through rd_difftest_enter (loads every register
// from kLoad and jumps). rd_difftest_exit stores every register back; an exception instead goes
// to the signal handler, which takes the state from the signal frame (REG_TRAPNO is the vector)
// and resumes the C++ loop through rd_difftest_resume.
#include "tools/cpu_difftest/native.hpp"

#include <linux/seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace redoubt::difftest {

// kLoad layout: Regs (xmm 0, gpr 256, rflags 384), then:
constexpr uint64_t kLoadMxcsr = kLoad + 400, kLoadHostMxcsr = kLoad + 404, kLoadEntry = kLoad + 408,
                   kLoadHostRsp = kLoad + 416, kLoadExit = kLoad + 424, kLoadEnded = kLoad + 432;
static_assert(sizeof(Regs) <= 400);

}  // namespace redoubt::difftest

#define RD_STR2(x) #x
#define RD_STR(x) RD_STR2(x)
// 0x360000 = kLoad (checked below).
asm(R"(
  .text
  .globl rd_difftest_enter
  .type rd_difftest_enter, @function
rd_difftest_enter:
  push %rbx
  push %rbp
  push %r12
  push %r13
  push %r14
  push %r15
  mov %rsp, 0x3601a0
  ldmxcsr 0x360190
  movdqu 0x360000, %xmm0
  movdqu 0x360010, %xmm1
  movdqu 0x360020, %xmm2
  movdqu 0x360030, %xmm3
  movdqu 0x360040, %xmm4
  movdqu 0x360050, %xmm5
  movdqu 0x360060, %xmm6
  movdqu 0x360070, %xmm7
  movdqu 0x360080, %xmm8
  movdqu 0x360090, %xmm9
  movdqu 0x3600a0, %xmm10
  movdqu 0x3600b0, %xmm11
  movdqu 0x3600c0, %xmm12
  movdqu 0x3600d0, %xmm13
  movdqu 0x3600e0, %xmm14
  movdqu 0x3600f0, %xmm15
  pushq 0x360180
  popfq
  mov 0x360100, %rax
  mov 0x360108, %rcx
  mov 0x360110, %rdx
  mov 0x360118, %rbx
  mov 0x360128, %rbp
  mov 0x360130, %rsi
  mov 0x360138, %rdi
  mov 0x360140, %r8
  mov 0x360148, %r9
  mov 0x360150, %r10
  mov 0x360158, %r11
  mov 0x360160, %r12
  mov 0x360168, %r13
  mov 0x360170, %r14
  mov 0x360178, %r15
  mov 0x360120, %rsp
  jmp *0x360198
  .size rd_difftest_enter, .-rd_difftest_enter

  # The normal end of a sequence (JMP [kLoad+0x1a8] after its last instruction): every register
  # back to kLoad without a signal, RFLAGS through the host stack, then DF = 0 and the host MXCSR.
  .globl rd_difftest_exit
  .type rd_difftest_exit, @function
rd_difftest_exit:
  mov %rax, 0x360100
  mov %rcx, 0x360108
  mov %rdx, 0x360110
  mov %rbx, 0x360118
  mov %rsp, 0x360120
  mov %rbp, 0x360128
  mov %rsi, 0x360130
  mov %rdi, 0x360138
  mov %r8, 0x360140
  mov %r9, 0x360148
  mov %r10, 0x360150
  mov %r11, 0x360158
  mov %r12, 0x360160
  mov %r13, 0x360168
  mov %r14, 0x360170
  mov %r15, 0x360178
  movdqu %xmm0, 0x360000
  movdqu %xmm1, 0x360010
  movdqu %xmm2, 0x360020
  movdqu %xmm3, 0x360030
  movdqu %xmm4, 0x360040
  movdqu %xmm5, 0x360050
  movdqu %xmm6, 0x360060
  movdqu %xmm7, 0x360070
  movdqu %xmm8, 0x360080
  movdqu %xmm9, 0x360090
  movdqu %xmm10, 0x3600a0
  movdqu %xmm11, 0x3600b0
  movdqu %xmm12, 0x3600c0
  movdqu %xmm13, 0x3600d0
  movdqu %xmm14, 0x3600e0
  movdqu %xmm15, 0x3600f0
  stmxcsr 0x360190
  mov 0x3601a0, %rsp
  pushfq
  popq 0x360180
  cld
  ldmxcsr 0x360194
  movl $1, 0x3601b0
  jmp rd_difftest_resume
  .size rd_difftest_exit, .-rd_difftest_exit

  .globl rd_difftest_resume
  .type rd_difftest_resume, @function
rd_difftest_resume:
  mov 0x3601a0, %rsp
  pop %r15
  pop %r14
  pop %r13
  pop %r12
  pop %rbp
  pop %rbx
  ret
  .size rd_difftest_resume, .-rd_difftest_resume
)");

extern "C" void rd_difftest_enter();
extern "C" void rd_difftest_resume();
extern "C" void rd_difftest_exit();

namespace redoubt::difftest {

static_assert(kLoad == 0x360000 && kLoadHostRsp == 0x3601a0 && kLoadMxcsr == 0x360190 && kLoadEntry == 0x360198 &&
              kLoadHostMxcsr == 0x360194 && kLoadExit == 0x3601a8 && kLoadEnded == 0x3601b0);

struct Job {
  uint32_t code_len;
  uint8_t code[kCodeSize - 16];
  Regs in;
  uint8_t mem[kScratchSize];
};
struct NativeRunner::Shared {
  volatile uint32_t progress;  // the job the child is running
  uint32_t count;
  Job jobs[NativeRunner::kBatch];
  Outcome res[NativeRunner::kBatch];
};

namespace {

Outcome* g_out = nullptr;
alignas(16) uint8_t g_altstack[64 * 1024];

// The end of a run: UD2 (vector 6) or any exception. Takes the state from the signal frame
// and returns into rd_difftest_resume on the host stack (rt_sigreturn restores the rest).
void on_signal(int, siginfo_t*, void* ctx) {
  auto* uc = static_cast<ucontext_t*>(ctx);
  greg_t* g = uc->uc_mcontext.gregs;
  Outcome& o = *g_out;
  o.vector = int(g[REG_TRAPNO]);
  o.error = uint64_t(g[REG_ERR]);
  static const int map[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                              REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
  for (int i = 0; i < 16; ++i) o.regs.gpr[i] = uint64_t(g[map[i]]);
  o.regs.rflags = uint64_t(g[REG_EFL]);
  o.regs.rip = uint64_t(g[REG_RIP]);
  if (uc->uc_mcontext.fpregs) {
    o.mxcsr = uc->uc_mcontext.fpregs->mxcsr;
    for (int i = 0; i < 16; ++i) std::memcpy(o.regs.xmm[i], &uc->uc_mcontext.fpregs->_xmm[i], 16);
    uc->uc_mcontext.fpregs->mxcsr = 0x1F80;
  }
  g[REG_RIP] = greg_t(reinterpret_cast<uintptr_t>(&rd_difftest_resume));
  g[REG_EFL] = 0x202;
}

[[noreturn]] void child_main(NativeRunner::Shared* sh, int rfd, int wfd) {
  auto fixed = [](uint64_t a, uint64_t n, int prot) {
    return mmap(reinterpret_cast<void*>(a), n, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) ==
           reinterpret_cast<void*>(a);
  };
  char ok = 'R';
  if (!fixed(kCode, kCodeSize, PROT_READ | PROT_WRITE | PROT_EXEC) || !fixed(kScratch, kScratchSize, PROT_READ | PROT_WRITE) ||
      !fixed(kLoad, 4096, PROT_READ | PROT_WRITE))
    ok = 'M';
  stack_t ss = {};
  ss.ss_sp = g_altstack;
  ss.ss_size = sizeof g_altstack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa = {};
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP}) sigaction(s, &sa, nullptr);
  // The sandbox: from here on only read, write, exit and rt_sigreturn (seccomp(2) SECCOMP_MODE_STRICT).
  if (ok == 'R' && prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) ok = 'S';
  if (write(wfd, &ok, 1) != 1 || ok != 'R') _exit(1);
  for (;;) {
    char go;
    if (read(rfd, &go, 1) != 1) _exit(0);
    for (uint32_t i = 0; i < sh->count; ++i) {
      sh->progress = i;
      const Job& j = sh->jobs[i];
      auto* code = reinterpret_cast<uint8_t*>(kCode);
      std::memcpy(code, j.code, j.code_len);
      // The end: JMP [kLoadExit] (FF 24 25 disp32) into rd_difftest_exit. It reports what the
      // interpreter's UD2 terminator does: vector 6 at the address after the last instruction.
      const uint8_t jmp[] = {0xFF, 0x24, 0x25, uint8_t(kLoadExit), uint8_t(kLoadExit >> 8), uint8_t(kLoadExit >> 16), 0};
      std::memcpy(code + j.code_len, jmp, sizeof jmp);
      std::memcpy(reinterpret_cast<void*>(kScratch), j.mem, kScratchSize);
      std::memcpy(reinterpret_cast<void*>(kLoad), &j.in, sizeof(Regs));
      *reinterpret_cast<uint32_t*>(kLoadMxcsr) = 0x1F80;
      *reinterpret_cast<uint32_t*>(kLoadHostMxcsr) = 0x1F80;
      *reinterpret_cast<uint64_t*>(kLoadEntry) = kCode;
      *reinterpret_cast<uint64_t*>(kLoadExit) = reinterpret_cast<uintptr_t>(&rd_difftest_exit);
      *reinterpret_cast<uint32_t*>(kLoadEnded) = 0;
      Outcome& o = sh->res[i];
      o.vector = -1;
      o.note[0] = 0;
      g_out = &o;
      rd_difftest_enter();
      if (*reinterpret_cast<volatile uint32_t*>(kLoadEnded)) {
        std::memcpy(&o.regs, reinterpret_cast<void*>(kLoad), sizeof(Regs));
        o.mxcsr = *reinterpret_cast<uint32_t*>(kLoadMxcsr);
        o.vector = 6;
        o.error = 0;
        o.regs.rip = kCode + j.code_len;
      }
      std::memcpy(o.mem, reinterpret_cast<void*>(kScratch), kScratchSize);
    }
    const char done = 'D';
    if (write(wfd, &done, 1) != 1) _exit(0);
  }
}

}  // namespace

NativeRunner::NativeRunner() {
  void* p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("cannot map the shared results");
  sh_ = static_cast<Shared*>(p);
  signal(SIGPIPE, SIG_IGN);
  spawn();
}

NativeRunner::~NativeRunner() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (to_child_ >= 0) close(to_child_);
  if (from_child_ >= 0) close(from_child_);
  munmap(sh_, sizeof(Shared));
}

void NativeRunner::spawn() {
  int down[2], up[2];
  if (pipe(down) != 0 || pipe(up) != 0) throw std::runtime_error("pipe failed");
  std::fflush(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    close(down[1]);
    close(up[0]);
    child_main(sh_, down[0], up[1]);
  }
  close(down[0]);
  close(up[1]);
  to_child_ = down[1];
  from_child_ = up[0];
  char ok = 0;
  if (read(from_child_, &ok, 1) != 1 || ok != 'R') {
    std::string why;
    reap(why);
    throw std::runtime_error(ok == 'M' ? "native child: the fixed addresses 0x340000-0x361000 are taken"
                             : ok == 'S' ? "native child: seccomp strict mode refused"
                                         : "native child died at start: " + why);
  }
}

void NativeRunner::reap(std::string& why) {
  int st = 0;
  if (pid_ > 0) waitpid(pid_, &st, 0);
  pid_ = -1;
  close(to_child_);
  close(from_child_);
  to_child_ = from_child_ = -1;
  char b[64];
  if (WIFSIGNALED(st)) std::snprintf(b, sizeof b, "killed by signal %d", WTERMSIG(st));
  else std::snprintf(b, sizeof b, "exited with %d", WEXITSTATUS(st));
  why = b;
}

void NativeRunner::run(const Sequence* const* seqs, unsigned n, Outcome* out) {
  unsigned done = 0;
  while (done < n) {
    const unsigned m = n - done;
    for (unsigned i = 0; i < m; ++i) {
      const Sequence& s = *seqs[done + i];
      Job& j = sh_->jobs[i];
      if (s.code.size() > sizeof j.code - 2) throw std::runtime_error("sequence too long");
      j.code_len = uint32_t(s.code.size());
      std::memcpy(j.code, s.code.data(), s.code.size());
      j.in = s.init;
      std::memcpy(j.mem, s.mem, kScratchSize);
    }
    sh_->count = m;
    sh_->progress = 0;
    const char go = 'G';
    char ack = 0;
    if (write(to_child_, &go, 1) == 1 && read(from_child_, &ack, 1) == 1 && ack == 'D') {
      for (unsigned i = 0; i < m; ++i) out[done + i] = sh_->res[i];
      return;
    }
    // The child died: results before `progress` stand, that one is reported, the rest rerun.
    const unsigned at = sh_->progress;
    std::string why;
    reap(why);
    for (unsigned i = 0; i < at; ++i) out[done + i] = sh_->res[i];
    Outcome& o = out[done + at];
    o = Outcome{};
    o.vector = -2;
    std::snprintf(o.note, sizeof o.note, "native child %s", why.c_str());
    done += at + 1;
    ++restarts_;
    spawn();
  }
}

}  // namespace redoubt::difftest
