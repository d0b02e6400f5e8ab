// libFuzzer: the hypervisor core's handling of what a guest controls
// (hypervisor/core/vm.cpp): hypercall numbers and arguments (docs/hypercalls.md),
// the guest page tables the hypervisor walks for them, CPUID/MSR/IO/NPF/HLT exits.
// The whole native hypervisor (hv::hypervisor_main) runs one admitted unsigned guest
// on the fuzz HAL (fuzz_hal.hpp); the "CPU" is this file: each VMRUN consumes the
// next record of the input and returns the #VMEXIT it describes, with the guest's
// registers and memory as the record sets them. Records (op byte, low 3 bits):
//   0 VMMCALL: byte selects RAX (1-5 or a raw value), RDI, RSI, RDX (u64 each)
//   1 write 8 bytes into guest RAM at u32 % RAM (page tables, buffers), no exit
//   2 CR0.PG (bit 3 of op) and CR3 (u32), no exit
//   3 CPUID, 4 RDMSR/WRMSR (ECX u32, EDX:EAX u64, op bit 3 = write),
//   5 IN/OUT (port u16, op bits 3-4 size, bit 5 in, bit 6 string), 6 HLT, 7 #NPF (gpa u32, info1 u8)
// The end of the input is a shutdown hypercall. Invariants: the hypervisor writes
// nothing outside the guest's RAM and its own memory (canaries around both), it
// never crashes, and the guest ends in a named state.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/vmcb.hpp"
#include "hypervisor/core/entry.hpp"
#include "hypervisor/core/hypercall_abi.hpp"
#include "hypervisor/core/run_record.hpp"
#include "policy/fs/eventlog.hpp"
#include "policy/host/pki_build.hpp"
#include "policy/host/pki_sign.hpp"
#include "abi/boot_params.hpp"
#include "tests/fuzz/fuzz_hal.hpp"

using namespace redoubt;

namespace {

constexpr uint64_t kRam = 64ull << 20;
constexpr uint64_t kLogPa = 0x100000, kLogCap = 0x10000;
constexpr uint64_t kImagePa = 0x120000, kImageSize = 0x1000;
constexpr uint64_t kPolicyPa = 0x140000;
constexpr uint64_t kHvMem = 0x200000, kHvMemSize = 2ull << 20;
constexpr uint64_t kGuestRam = 0x600000, kGuestRamSize = 4ull << 20;
constexpr uint64_t kCanary1 = kHvMem + kHvMemSize, kCanary2 = kGuestRam + kGuestRamSize, kCanarySize = 0x2000;
constexpr uint8_t kCanaryByte = 0xC5;

struct Input {
  const uint8_t* d;
  size_t n, at = 0;
  bool more() const { return at < n; }
  uint8_t u8() { return at < n ? d[at++] : 0; }
  uint64_t le(int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t(u8()) << (8 * i);
    return v;
  }
};

// The guest CPU: replays the input as #VMEXITs.
class FuzzCpu final : public hal::Svm {
 public:
  explicit FuzzCpu(fuzz_hal::FuzzPlatform& p) : p_(p) {}
  Input in{nullptr, 0};
  uint64_t tsc = 0;
  size_t runs = 0;

  bool available() override { return true; }
  Status enable(uint64_t) override { return Status::ok(); }
  void invlpga(uint64_t, uint32_t) override {}
  uint64_t rdtsc() override { return tsc; }
  void arm_timer(uint64_t, uint8_t) override {}

  void vmrun(uint64_t vmcb_pa, hal::GuestGprs& r, hal::GuestExtState*) override {
    auto* v = reinterpret_cast<svm::Vmcb*>(p_.map(vmcb_pa, sizeof(svm::Vmcb)));
    if (!v) std::abort();
    ++runs;
    tsc += 1000;
    v->control.exitinfo1 = v->control.exitinfo2 = v->control.next_rip = 0;
    for (;;) {
      if (!in.more() || runs > 4096) {  // the end of the input: the guest shuts down
        v->save.rax = hv::kHcShutdown;
        r.rdi = 0;
        v->control.exitcode = svm::kExitVmmcall;
        return;
      }
      const uint8_t op = in.u8();
      switch (op & 7) {
        case 0: {
          static const uint64_t kNr[8] = {hv::kHcConsoleWrite, hv::kHcYield, hv::kHcShutdown, hv::kHcGetLaunchInfo,
                                          hv::kHcSetTimer, 0, 0x100, ~0ull};
          const uint8_t sel = in.u8();
          v->save.rax = sel < 8 ? kNr[sel] : sel;
          r.rdi = in.le(8);
          r.rsi = in.le(8);
          r.rdx = in.le(8);
          v->control.exitcode = svm::kExitVmmcall;
          return;
        }
        case 1: {
          const uint64_t off = in.le(4) % (kGuestRamSize - 8);
          const uint64_t val = in.le(8);
          std::memcpy(p_.map(kGuestRam + off, 8), &val, 8);
          continue;
        }
        case 2:
          v->save.cr0 = (op & 8) ? v->save.cr0 | (1ull << 31) : v->save.cr0 & ~(1ull << 31);
          v->save.cr3 = in.le(4);
          continue;
        case 3:
          v->save.rax = in.le(4);
          r.rcx = in.le(4);
          v->control.exitcode = svm::kExitCpuid;
          return;
        case 4:
          r.rcx = in.le(4);
          r.rdx = in.le(4);
          v->save.rax = in.le(4);
          v->control.exitcode = svm::kExitMsr;
          v->control.exitinfo1 = (op >> 3) & 1;
          return;
        case 5: {
          const uint64_t port = in.le(2);
          const unsigned sz = (op >> 3) & 3;
          v->control.exitinfo1 = port << svm::ioio::kPortShift | (sz == 0 ? svm::ioio::kSz8 : sz == 1 ? svm::ioio::kSz16 : svm::ioio::kSz32) |
                                 ((op & 0x20) ? svm::ioio::kTypeIn : 0) | ((op & 0x40) ? svm::ioio::kStr : 0);
          v->control.exitinfo2 = v->save.rip + 1;
          v->save.rax = in.le(4);
          v->control.exitcode = svm::kExitIoio;
          return;
        }
        case 6: v->control.exitcode = svm::kExitHlt; return;
        case 7:
          v->control.exitinfo2 = in.le(4);
          v->control.exitinfo1 = in.u8() | (uint64_t(in.u8() & 3) << 32);
          v->control.exitcode = svm::kExitNpf;
          return;
      }
    }
  }

 private:
  fuzz_hal::FuzzPlatform& p_;
};

const policy::Bytes& launch_policy() {
  static const policy::Bytes cose = [] {
    policy::EvpKey k = policy::generate_signing_key("P-256");
    policy::CertSpec r{.cn = "Fuzz Root", .not_before = 1700000000, .not_after = 2000000000};
    r.ca = true;
    r.ku_bits = 32 | 64;
    policy::X509Ptr root = policy::issue_cert(r, k, nullptr, k);
    policy::LaunchPolicyInput in;
    in.time = 1767225600;
    in.anchors = {policy::cert_der(root.get())};
    in.allow_unsigned = true;
    in.io = {policy::IoRange{0x3f8, 0x3ff}};
    return policy::sign_launch_policy(in, k);
  }();
  return cose;
}

bool canary_intact(fuzz_hal::FuzzPlatform& p, uint64_t pa) {
  static const std::vector<uint8_t> kCanary(kCanarySize, kCanaryByte);  // one memcmp, not an instrumented byte loop
  return std::memcmp(p.map(pa, kCanarySize), kCanary.data(), kCanarySize) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz_hal::FuzzPlatform p(kRam);
  static FuzzCpu cpu(p);
  static const policy::Bytes& pol = launch_policy();
  static bool once = [] {
    std::memset(p.map(kCanary1, kCanarySize), kCanaryByte, kCanarySize);
    std::memset(p.map(kCanary2, kCanarySize), kCanaryByte, kCanarySize);
    std::memcpy(p.map(kPolicyPa, pol.size()), pol.data(), pol.size());
    std::memset(p.map(kImagePa, kImageSize), 0x90, kImageSize);
    p.clear_in_place(kHvMem, kHvMemSize);  // its allocator re-touches these pages every input
    return true;
  }();
  (void)once;
  p.reset();
  p.set_svm(&cpu);
  cpu.in = Input{data, size};
  cpu.tsc = 0;
  cpu.runs = 0;

  hal::HypervisorHandoff h{};
  std::memcpy(h.hv_name, "fuzz", 5);
  h.banks.alg[h.banks.count++] = HashAlg::sha256;
  h.banks.alg[h.banks.count++] = HashAlg::sha384;
  policy::EventLogWriter w(p.map(kLogPa, kLogCap), kLogCap);
  if (!w.write_header(h.banks)) std::abort();
  h.event_log_pa = kLogPa;
  h.event_log_cap = kLogCap;
  h.event_log_used = w.size();
  h.hv_image_pa = kImagePa;
  h.hv_image_size = kImageSize;
  h.policy_pa = kPolicyPa;
  h.policy_size = pol.size();
  h.hv_memory_pa = kHvMem;
  h.hv_memory_size = kHvMemSize;
  h.guest_count = 1;
  auto& g = h.guests[0];
  std::memcpy(g.name, "guest", 6);
  g.image_pa = kImagePa;  // any bytes: the fuzz CPU does not execute them
  g.image_size = kImageSize;
  g.ram_pa = kGuestRam;
  g.ram_size = kGuestRamSize;
  g.io_base = 0x3f8;
  g.io_count = 8;
  const std::pair<uint64_t, uint64_t> regions[] = {
      {kLogPa, kLogCap}, {kImagePa, kImageSize}, {kPolicyPa, pol.size()}, {kHvMem, kHvMemSize}, {kGuestRam, kGuestRamSize}};
  for (const auto& [pa, n] : regions) (void)p.protect(pa, n);

  const Status s = hv::hypervisor_main(p, h);
  if (!s) std::abort();  // nothing the guest does may stop the hypervisor
  const auto* rec = reinterpret_cast<const hv::RunRecord*>(p.map(kHvMem, sizeof(hv::RunRecord)));
  const auto st = hv::GuestState(rec->guests[0].state);
  if (st != hv::GuestState::exited && st != hv::GuestState::killed) std::abort();
  if (rec->guests[0].reason[0] == 0) std::abort();
  if (!canary_intact(p, kCanary1) || !canary_intact(p, kCanary2)) std::abort();
  std::memset(p.map(kLogPa, kLogCap), 0, kLogCap);
  return 0;
}
