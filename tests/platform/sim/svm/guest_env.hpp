// A test machine with one guest set up the way a hypervisor would: VMCB,
// IOPM, MSRPM, nested page tables and the guest's own GDT/IDT/TSS/paging in
// simulated physical memory. Guest-physical 0 sits at host-physical 16 MiB so
// a missing nested translation cannot go unnoticed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/intercepts.hpp"
#include "arch/svm/vmcb.hpp"
#include "arch/x86/paging.hpp"
#include "platform/sim/machine.hpp"
#include "platform/sim/svm/svm_cpu.hpp"

namespace redoubt::test {

struct GuestEnvOptions {
  unsigned guest_page_shift = 12;   // identity map of the low 8 MiB: 12 or 21
  unsigned nested_page_shift = 12;  // nested map of guest-physical 0..8 MiB: 12 or 21
  uint64_t nested_bytes = 8ull << 20;
};

class GuestEnv {
 public:
  static constexpr uint64_t kVmcb = 0x1000, kHsave = 0x2000, kIopm = 0x10000, kMsrpm = 0x14000;
  static constexpr uint64_t kGuestBase = 16ull << 20;  // host-physical of guest-physical 0
  static constexpr uint64_t kGdt = 0x2000, kIdt = 0x3000, kTss = 0x4000, kResults = 0x5000;
  static constexpr uint64_t kCode = 0x100000, kStackTop = 0x200000, kVectors = 0x100100;

  explicit GuestEnv(const std::string& program, GuestEnvOptions opt = {});

  sim::Machine m{sim::MachineConfig{64ull << 20, 1, true}};
  sim::SvmCpu svm{m};

  svm::Vmcb& vmcb() { return *reinterpret_cast<svm::Vmcb*>(m.mem().map(kVmcb, 4096)); }
  uint8_t* gpa(uint64_t a, uint64_t n = 8) { return m.mem().map(kGuestBase + a, n); }
  uint64_t rd64(uint64_t guest_pa);
  void wr64(uint64_t guest_pa, uint64_t v);
  uint64_t result(unsigned i) { return rd64(kResults + 8 * i); }  // [0] vector [1] error [2] CR2 [3] RIP [4] count

  // Guest page tables (in guest-physical memory); returns the gPA of the table holding the leaf.
  uint64_t guest_map(uint64_t va, uint64_t gpa, unsigned shift, uint64_t flags);
  // Nested tables (in host-physical memory).
  void nested_map(uint64_t gpa, uint64_t hpa, unsigned shift, uint64_t flags);
  void nested_unmap_4k(uint64_t gpa);  // clears the 4 KiB nested PTE of gpa
  uint64_t guest_pml4() const { return pml4_; }

  void run() { svm.vmrun(kVmcb); }
  uint64_t step(unsigned i) { return rd64(rd64(kCode + 8) + 8 * i); }  // program's step table
  void restart_at(unsigned i) { vmcb().save.rip = step(i); vmcb().save.rsp = kStackTop; vmcb().save.rflags = 2; }
  uint64_t gpr(unsigned r) { return svm.gprs(kVmcb).r[r]; }
  uint64_t exitcode() { return vmcb().control.exitcode; }
  void resume_at_nrip() { vmcb().save.rip = vmcb().control.next_rip; }
  void set_msr_intercept(uint32_t msr, bool read, bool write);
  void set_io_intercept(uint16_t port);

 private:
  uint64_t alloc_guest_table();
  uint64_t alloc_nested_table();
  uint64_t pml4_ = 0, npml4_ = 0;
  uint64_t next_gtable_ = 0x10000, next_ntable_ = 0x100000;
};

std::string guest_bin(const std::string& name);  // path of an assembled guest program

}  // namespace redoubt::test
