// Exception and interrupt delivery through the 64-bit IDT (APM vol. 2 §8.9
// "Long-Mode Interrupt Control Transfers").
#include "platform/sim/cpu/cpu.hpp"
#include <string>

#include "arch/x86/descriptors.hpp"
#include "arch/x86/paging.hpp"
#include "platform/sim/cpu/flags.hpp"

namespace redoubt::sim::cpu {

namespace {
constexpr uint64_t kRF = 1ull << 16, kNT = 1ull << 14, kVM = 1ull << 17;

struct SupScope {  // implicit supervisor accesses (IDT, GDT, TSS, the new stack)
  Cpu& c;
  bool saved;
  explicit SupScope(Cpu& cpu) : c(cpu), saved(cpu.implicit_sup) { c.implicit_sup = true; }
  ~SupScope() { c.implicit_sup = saved; }
};
}  // namespace

void Cpu::deliver(const Event& ev) {
  if (!(efer & x86::kEferLma))  // legacy protected-mode IDT (APM vol. 2 §8.7): not modelled
    throw CpuError("event (vector " + std::to_string(ev.vector) +
                   ") in legacy protected mode: 32-bit IDT delivery is not modelled");
  const bool ext = ev.type != 4;  // EXT bit of the error code for events not caused by INTn
  const uint32_t idt_err = uint32_t(ev.vector) * 8 + 2 + (ext ? 1 : 0);
  if (uint32_t(ev.vector) * 16 + 15 > idtr.limit) gp(idt_err);
  uint64_t lo, hi;
  {
    SupScope s(*this);
    lo = rd<uint64_t>(idtr.base + ev.vector * 16ull);
    hi = rd<uint64_t>(idtr.base + ev.vector * 16ull + 8);
  }
  const unsigned type = (lo >> 40) & 0xF, dpl = (lo >> 45) & 3, ist = (lo >> 32) & 7;
  if (type != 0xE && type != 0xF) gp(idt_err);  // only 64-bit interrupt/trap gates in long mode
  if (ev.type == 4 && dpl < cpl) gp(idt_err);    // INTn privilege check
  if (!((lo >> 47) & 1)) fault(11, idt_err);    // #NP
  const uint16_t sel = uint16_t(lo >> 16);
  const uint64_t target = (lo & 0xFFFF) | (((lo >> 48) & 0xFFFF) << 16) | ((hi & 0xFFFFFFFF) << 32);
  if ((sel & 0xFFFC) == 0) gp(ext ? 1 : 0);
  Segment ncs = read_descriptor(sel);
  if (!(ncs.attrib & 0x10) || !(ncs.attrib & 0x8) || !(ncs.attrib & 0x200)) gp((sel & 0xFFFC) | (ext ? 1 : 0));
  if (!(ncs.attrib & 0x80)) fault(11, (sel & 0xFFFC) | (ext ? 1 : 0));
  const uint8_t new_cpl = (ncs.attrib >> 5) & 3;
  if (new_cpl > cpl) gp((sel & 0xFFFC) | (ext ? 1 : 0));

  const uint64_t old_rsp = gpr[RSP], old_flags = rflags();
  const uint16_t old_ss = ss.selector, old_cs = cs.selector;
  uint64_t rsp = old_rsp;
  SupScope s(*this);
  if (new_cpl < cpl) rsp = rd<uint64_t>(tr.base + 4 + 8ull * new_cpl);  // TSS.RSPn
  if (ist) rsp = rd<uint64_t>(tr.base + 0x24 + 8ull * (ist - 1));      // TSS.ISTn
  rsp &= ~0xFull;
  // Build the frame first (any fault leaves the old state intact), then commit.
  uint64_t frame[6];
  int n = 0;
  if (ev.has_error) frame[n++] = ev.error;
  frame[n++] = gpr[kRip];
  frame[n++] = old_cs;
  frame[n++] = old_flags;
  frame[n++] = old_rsp;
  frame[n++] = old_ss;
  uint64_t p = rsp - 8ull * n;
  for (int i = n - 1; i >= 0; --i) wr<uint64_t>(p + 8ull * i, frame[i]);  // SS first, as pushed
  gpr[RSP] = p;
  // Loading CS through the gate sets the descriptor's accessed bit as any CS load does (SDM vol. 3A
  // §3.4.5.1); without it the next VM entry on the Intel model fails §27.3.1.2's accessed-CS check.
  // Loading CS through the gate sets the descriptor's accessed bit as any CS load does (SDM vol. 3A
  // §3.4.5.1); without it the next VM entry on the Intel model fails §27.3.1.2's accessed-CS check.
  set_descriptor_accessed(sel);
  ncs.selector = uint16_t((sel & 0xFFFC) | new_cpl);
  ncs.attrib |= x86::kSegAccessed;
  cs = ncs;
  if (new_cpl != cpl) {
    ss = Segment{};
    ss.selector = new_cpl;
  }
  set_cpl(new_cpl);
  update_mode();  // the handler runs in 64-bit mode even if the event interrupted compatibility mode
  gpr[kRip] = target;
  uint64_t f = old_flags & ~(kTF | kNT | kRF | kVM);
  if (type == 0xE) f &= ~kIF;
  set_rflags(f);
  halted = false;
}

}  // namespace redoubt::sim::cpu
