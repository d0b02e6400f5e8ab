// Guest-reachable CPU state: registers left behind by another guest, MSRs and control
// registers only the host may own, SVM and cache instructions, port I/O to the platform.
// Stopped by the world switch (APM vol. 2 §15.5.1 VMRUN, §15.5.2 VMLOAD/VMSAVE), the
// intercepts (§15.9 instruction intercepts, §15.10 IOIO, §15.11 MSR), the consistency
// checks of VMRUN (§15.5.1) and #VMEXIT(VMEXIT_INVALID).
#include <map>

#include "abi/boot_params.hpp"
#include "hypervisor/core/entry.hpp"
#include "platform/sim/machine.hpp"
#include "tools/attacks/harness.hpp"

namespace redoubt::tools::attacks {
namespace {

// "who: NAME=0xVALUE[ MISMATCH]" lines of the hvattack guest -> NAME -> VALUE.
std::map<std::string, uint64_t> values(const std::string& serial, const std::string& who) {
  std::map<std::string, uint64_t> m;
  for (const std::string& l : lines(serial, who + ": ")) {
    const size_t p = who.size() + 2, eq = l.find("=0x");
    if (eq == std::string::npos || l.find(' ', p) < eq) continue;
    m[l.substr(p, eq - p)] = std::stoull(l.substr(eq + 3), nullptr, 16);
  }
  return m;
}

constexpr uint64_t kV = 0x5EC0000000000000ull;  // the hvattack victim's tag (guests/hvattack/hvattack.c)
const char* const kGpr[16] = {"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
                              "R8",  "R9",  "R10", "R11", "R12", "R13", "R14", "R15"};

// The registers a fresh guest holds (docs/guests.md "Entry state"); the spy's GPRs are 0x100 + i.
std::map<std::string, uint64_t> initial_state() {
  std::map<std::string, uint64_t> m = {
      {"DR0", 0}, {"DR1", 0}, {"DR2", 0}, {"DR3", 0}, {"DR6", 0xFFFF0FF0}, {"DR7", 0x400}, {"CR8", 0}, {"CR2", 0},
      {"FS_BASE", 0}, {"GS_BASE", 0}, {"KERNEL_GS_BASE", 0}, {"PAT", 0x0007040600070406ull}, {"EFER", 0xD01},
      {"TR", 0}, {"LDTR", 0}, {"GDTR.base", 0x2000}, {"GDTR.limit", 23},
      {"FCW", 0x37F}, {"FSW", 0}, {"FTW", 0}, {"FOP", 0}, {"FIP", 0}, {"FDP", 0}, {"MXCSR", 0x1F80}};
  for (int i = 0; i < 8; ++i) m["ST" + std::to_string(i)] = 0;
  for (int i = 0; i < 16; ++i) m["XMM" + std::to_string(i) + ".l"] = m["XMM" + std::to_string(i) + ".h"] = 0;
  m["RAX"] = 0;
  for (int i = 1; i < 16; ++i)
    if (i != 4) m[kGpr[i]] = 0x100 + i;
  return m;
}

// The secrets the victim sets (hvattack.c want_regs/fill_fx with VICTIM), computed here.
std::map<std::string, uint64_t> victim_secrets() {
  std::map<std::string, uint64_t> m;
  for (int i = 0; i < 4; ++i) m["DR" + std::to_string(i)] = 0x00007EC00000D000ull + 0x100 * i;
  m["DR6"] = 0xFFFF0FF3;
  m["DR7"] = 0x55550400;
  m["CR8"] = 0xB;
  m["CR2"] = kV + 0xC2;
  const char* msr[3] = {"FS_BASE", "GS_BASE", "KERNEL_GS_BASE"};
  for (int i = 0; i < 3; ++i) m[msr[i]] = 0x00007EC0000F5000ull + 0x1000 * i;
  m["PAT"] = 0x0106040601060406ull;
  m["EFER"] = 0xD00;
  m["TR"] = 0x18;
  m["GDTR.limit"] = 39;
  m["FCW"] = 0x27F;
  m["FSW"] = 0x3800;
  m["FTW"] = 0x81;
  m["FOP"] = 0x7D3;
  m["FIP"] = kV + 0xF1;
  m["FDP"] = kV + 0xFD;
  m["MXCSR"] = 0xFFC0;
  for (int i = 0; i < 8; ++i) m["ST" + std::to_string(i)] = (kV + 0x570 + i) ^ (0x3Full << 48);
  for (int i = 0; i < 16; ++i) {
    m["XMM" + std::to_string(i) + ".l"] = kV + 0xA0 + i;
    m["XMM" + std::to_string(i) + ".h"] = ~(kV + i);
  }
  for (int i = 1; i < 16; ++i)
    if (i != 4) m[kGpr[i]] = kV + i;
  return m;
}

REDOUBT_ATTACK({"cpu-state.register-spy", "cpu-state",
                "a victim guest sets every register it can reach (GPRs, DR0-7, CR2, CR8, x87/SSE, FS/GS/KernelGS "
                "base, PAT, EFER, TR, GDTR) to secrets and yields; a spy guest reads all 79 of them",
                "VMRUN/#VMEXIT switch the save area (APM vol. 2 §15.5.1), VMLOAD/VMSAVE the rest (§15.5.2), the "
                "world-switch stub the GPRs, DR0-3 and FXSAVE image; V_INTR_MASKING virtualises CR8 (§15.21.4)",
                "kHvTestNoGuestStateSwitch: DR0-3, x87/SSE and CR8 not switched", [](Ctx& c, Checks& k) {
                  Launch L = c.run({GuestSpec{"hvattack", {1, 0, 0, 0}}, GuestSpec{"hvattack", {2, 0, 0, 0}}}, nullptr,
                                   hv::kHvTestNoGuestStateSwitch);
                  need_hv_ok(L, k);
                  const GuestResult& victim = L.guest(0);
                  const GuestResult& spy = L.guest(1);
                  const auto got = values(spy.serial, "spy");
                  const auto init = initial_state(), secret = victim_secrets();
                  k.need(got.size() == 79, "the spy reported " + std::to_string(got.size()) + " registers, want 79");
                  unsigned same = 0, leaked = 0;
                  std::string which;
                  for (const auto& [name, v] : init) {
                    auto g = got.find(name);
                    if (g == got.end()) continue;
                    same += g->second == v;
                    auto s = secret.find(name);
                    if (s != secret.end() && s->second != v && g->second == s->second) {
                      ++leaked;
                      if (leaked <= 6) which += (which.empty() ? "" : ", ") + name;
                    }
                  }
                  k.need(same == 79, std::to_string(79 - same) + " of the spy's registers were not its initial value");
                  k.leak(leaked > 0, std::to_string(leaked) + " of the victim's secrets read by the spy (" + which + ")");
                  need_exited(L, 1, 0, k);
                  need_exited(L, 0, 0, k, "victim: 0 registers disturbed");
                  // The victim's own view: each secret still its own after the spy ran.
                  const auto mine = values(victim.serial, "victim");
                  unsigned kept = 0;
                  for (const auto& [name, v] : secret) kept += mine.count(name) && mine.at(name) == v;
                  k.leak(kept != secret.size(), std::to_string(secret.size() - kept) + " of the victim's " +
                                                    std::to_string(secret.size()) + " secrets changed under it");
                  k.evidence()["spy_registers"] = got.size();
                  k.evidence()["secrets_read_by_spy"] = leaked;
                  k.note("spy saw its initial value in " + std::to_string(same) + "/79 registers; victim kept " +
                         std::to_string(kept) + "/" + std::to_string(secret.size()) + " secrets");
                }});

REDOUBT_ATTACK({"cpu-state.efer-lme-clear", "cpu-state",
                "WRMSR EFER clearing LME while paging is on (the state VMRUN would refuse), beside a hello guest",
                "the MSR intercept (APM vol. 2 §15.11): #GP(0) as the architecture says (§3.1.7); the guest goes on",
                "", [](Ctx& c, Checks& k) {
                  Launch L = c.run({GuestSpec{"hvattack", {3, 0, 0, 0}}, GuestSpec{"hello"}});
                  need_hv_ok(L, k);
                  need_exited(L, 0, 0, k, "efer: WRMSR EFER=0xc01 (LME cleared, CR0.PG = 1): #GP");
                  k.need(has(L.guest(0).serial, "efer: EFER=0xd01, still running in 64-bit mode"), "EFER changed");
                  need_exited(L, 1, 0, k, "Hello, world!");
                  k.clean("#GP in the guest; EFER stays 0xd01; hello finished");
                }});

REDOUBT_ATTACK({"cpu-state.compat-iretq", "cpu-state",
                "IRETQ into a 32-bit code segment (compatibility mode), a CPUID exit and a hypercall from there",
                "VMRUN loads CS with its L/D bits (APM vol. 2 §15.5.1); the hypervisor resumes it in compatibility "
                "mode and the hypercall ABI works from 32-bit code",
                "", [](Ctx& c, Checks& k) {
                  Launch L = c.run({GuestSpec{"hvattack", {4, 0, 0, 0}}, GuestSpec{"hello"}});
                  need_hv_ok(L, k);
                  need_exited(L, 0, 32, k, "compat: IRETQ into the 32-bit code segment 0x18\n32\n");
                  k.need(L.guest(0).exits.count("CPUID") && L.guest(0).exits.at("CPUID") >= 1, "no CPUID exit from 32-bit code");
                  need_exited(L, 1, 0, k, "Hello, world!");
                  k.clean("a CPUID exit and the shutdown hypercall (exit code 32) from compatibility mode; hello finished");
                }});

REDOUBT_ATTACK({"cpu-state.vmrun-invalid-state", "cpu-state",
                "IRETQ into a 16-bit code segment: a guest state the CPU refuses to run (VMRUN consistency checks)",
                "#VMEXIT(VMEXIT_INVALID) (APM vol. 2 §15.5.1): the hypervisor ends that guest alone, by name",
                "", [](Ctx& c, Checks& k) {
                  Launch L = c.run({GuestSpec{"hvattack", {6, 0, 0, 0}}, GuestSpec{"hello"}});
                  need_hv_ok(L, k);
                  need_killed(L, 0, "VMRUN refused the guest state (#VMEXIT VMEXIT_INVALID)", k);
                  need_exited(L, 1, 0, k, "Hello, world!");
                  k.note(L.guest(0).reason);
                }});

REDOUBT_ATTACK({"cpu-state.svm-instructions", "cpu-state",
                "seven guests execute VMRUN, VMLOAD, VMSAVE (RAX = the hypervisor's memory), CLGI, STGI, SKINIT and "
                "INVLPGA",
                "intercepted (VMCB intercept_misc2, required for VMRUN by APM vol. 2 §15.5.1; §15.9): each guest "
                "ends alone with the exit named; a hello guest beside them finishes",
                "", [](Ctx& c, Checks& k) {
                  static const char* const names[7] = {"VMRUN", "VMLOAD", "VMSAVE", "CLGI", "STGI", "SKINIT", "INVLPGA"};
                  static const uint64_t codes[7] = {0x80, 0x82, 0x83, 0x85, 0x84, 0x86, 0x7A};
                  std::vector<GuestSpec> g;
                  for (uint64_t i = 0; i < 7; ++i) g.push_back(GuestSpec{"attack", {kSvm, i, c.layout().hv_memory, 0}, 0, 4});
                  g.push_back(GuestSpec{"hello", {}, 0, 4});
                  Launch L = c.run(g);
                  need_hv_ok(L, k);
                  for (int i = 0; i < 7; ++i) {
                    need_killed(L, i, "unhandled #VMEXIT " + hex(codes[i]) + " (" + names[i] + ")", k);
                    k.need(!has(L.guest(i).serial, "returned to the guest"), std::string(names[i]) + " executed in the guest");
                  }
                  need_exited(L, 7, 0, k, "Hello, world!");
                  k.clean("each ended alone by its intercept; hello finished");
                }});

REDOUBT_ATTACK({"cpu-state.msr-writes", "cpu-state",
                "RDMSR/WRMSR of host-only MSRs: EFER.SVME and reserved EFER bits, VM_CR, VM_HSAVE_PA (pointed at "
                "hypervisor memory), SYSCFG, HWCR, SMM_ADDR/MASK, SVM_KEY, TSC, APIC_BASE, MTRRs, LSTAR",
                "the MSR permission map intercepts every MSR (APM vol. 2 §15.11): #GP(0) injected, EFER.SVME stays "
                "set and hidden (§15.5.1 requires it set for VMRUN)",
                "", [](Ctx& c, Checks& k) {
                  Launch L = c.run({GuestSpec{"hello"}, GuestSpec{"attack", {kMsr, c.layout().hv_memory, 0, 0}}});
                  need_hv_ok(L, k);
                  need_exited(L, 1, 0, k, "msr: 0 not refused");
                  const std::string& s = L.guest(1).serial;
                  k.need(has(s, "(SVME hidden)"), "EFER.SVME visible to the guest");
                  const auto gp = lines(s, "msr: ");
                  unsigned n_gp = 0;
                  for (const auto& l : gp) n_gp += has(l, ": #GP");
                  k.need(n_gp == 21, std::to_string(n_gp) + " #GP, want 21");
                  k.need(L.has_record && L.record.guests[1].msr_denied == 21,
                         "the hypervisor counted " + std::to_string(L.record.guests[1].msr_denied) + " denied MSR accesses, want 21");
                  need_exited(L, 0, 0, k, "Hello, world!");  // SVM still on: the hello guest ran after the attempts
                  k.clean(std::to_string(n_gp) + " accesses refused with #GP; EFER.SVME hidden; hello finished");
                }});

REDOUBT_ATTACK({"cpu-state.control-registers", "cpu-state",
                "MOV CR0/CR4 with values the CPU must refuse (PG or PE off in 64-bit mode, NW without CD, reserved "
                "bits, CR4.VMXE, PAE off), then WBINVD and INVD",
                "the CPU's own checks in the guest (#GP, APM vol. 2 §3.1.1, §3.7), INVD intercepted (§15.9, it "
                "would drop dirty lines the host owns); WBINVD only writes back, not intercepted",
                "", [](Ctx& c, Checks& k) {
                  Launch L = c.run({GuestSpec{"hello"}, GuestSpec{"attack", {kCr, 0, 0, 0}}});
                  need_hv_ok(L, k);
                  const std::string& s = L.guest(1).serial;
                  k.need(!has(s, "UNEXPECTED"), "a control-register write was not refused: " + s);
                  unsigned n_gp = 0;
                  for (const auto& l : lines(s, "cr: MOV")) n_gp += has(l, ": #GP");
                  k.need(n_gp == 7, std::to_string(n_gp) + " #GP, want 7");
                  k.need(has(s, "cr: WBINVD returned"), "WBINVD did not return");
                  need_killed(L, 1, "unhandled #VMEXIT 0x76 (INVD)", k);
                  k.need(!has(s, "INVD returned to the guest"), "INVD executed in the guest");
                  need_exited(L, 0, 0, k, "Hello, world!");
                  k.clean(std::to_string(n_gp) + " #GP; INVD ended the guest; hello finished");
                }});

REDOUBT_ATTACK({"cpu-state.io-ports", "cpu-state",
                "port I/O to the platform: PCI configuration (reads, and DEV_CR = 0 to turn the Device Exclusion "
                "Vector off), a fake record on COM2 (the harness channel), the reset ports, and the power-off port "
                "with status \"ok\"",
                "the I/O permission map intercepts every port but the virtual UART (APM vol. 2 §15.10): reads float "
                "high, writes are dropped and counted",
                "kHvTestIoPassthrough: the IOPM intercepts only the virtual UART", [](Ctx& c, Checks& k) {
                  bool dev_on = false, hv_mem_protected = false;
                  // The attacker first, so that without the protection it powers the machine off before hello runs.
                  Launch L = c.run({GuestSpec{"attack", {kIo, 0, 0, 0}}, GuestSpec{"hello"}}, nullptr,
                                   hv::kHvTestIoPassthrough, 4'000'000'000ull, [&](RunOptions& o) {
                                     auto prev = o.after_run;
                                     o.after_run = [&, prev](sim::Machine& m) {
                                       dev_on = m.dev().table_attached();
                                       hv_mem_protected = m.dev().all_protected(c.layout().hv_memory, c.layout().hv_memory_size);
                                       if (prev) prev(m);
                                     };
                                   });
                  const auto& rep = L.r.launch.report;
                  k.need(rep.hypervisor_entered && L.r.ran && L.r.guests.size() == 2,
                         "the run ended before the guests did: " + rep.stage + ": " + rep.reason);
                  need_hv_ok(L, k);
                  if (L.r.guests.size() == 2) {
                    need_exited(L, 0, 0, k, "io: still running after the power-off port");
                    need_exited(L, 1, 0, k, "Hello, world!");
                  }
                  k.need(L.has_record && L.record.guests[0].io_denied == 30,
                         "the hypervisor denied " + std::to_string(L.has_record ? L.record.guests[0].io_denied : 0) +
                             " port accesses, want 30");
                  k.leak(!dev_on || !hv_mem_protected, "the DEV no longer protects hypervisor memory");
                  const std::string ch(rep.harness_channel.begin(), rep.harness_channel.end());
                  k.leak(has(ch, "RDBT-FAKE"), "the guest wrote into the harness channel (COM2)");
                  // The console (not the serial log, which the record completes only at teardown) shows how far it got.
                  const bool wrote_off = L.console_has("io: writing 0 (\"ok\") to the power-off port");
                  const bool survived = L.console_has("io: still running after the power-off port");
                  k.leak(wrote_off && !survived, "the guest's write to the power-off port stopped the machine with the "
                                                 "guests unfinished (hypervisor '" + L.r.hv_status + "', exit status " +
                                                     std::to_string(rep.exit_status) + ")");
                  k.evidence()["exit_status"] = rep.exit_status;
                  k.evidence()["io_denied"] = L.has_record ? L.record.guests[0].io_denied : 0;
                  k.note(std::to_string(L.has_record ? L.record.guests[0].io_denied : 0) + " port accesses denied; DEV " +
                         (dev_on && hv_mem_protected ? "still on" : "OFF") + "; the machine " +
                         (survived ? "kept running after the power-off write" : "STOPPED at the power-off write"));
                }});

}  // namespace
}  // namespace redoubt::tools::attacks
