// Near control transfers and stack operations of 32-bit code (compatibility
// mode and legacy protected mode): 4-byte stack slots at SS.base + ESP, EIP
// truncated to 32 bits after every transfer (APM vol. 3 "Jcc", "JMP (Near)",
// "CALL (Near)", "RET (Near)", "PUSH", "POP", "LEAVE", "LOOPcc", "JrCXZ").
#include "platform/sim/cpu/exec_mode.hpp"

#include <Zydis/Zydis.h>

#include <string>

namespace redoubt::sim::cpu::exec {

using namespace redoubt::x86;

StackCursor::StackCursor(Cpu& c) : c_(c), wide_(c.mode() == Mode::long64), sp_(c.gpr[RSP]) {
  if (!wide_) {
    if (!(c.ss.attrib & kSegDb)) throw CpuError("16-bit stack segment (SS.B = 0) outside 64-bit mode: not modelled");
    sp_ = uint32_t(sp_);
  }
}

namespace {
void set_eip(Cpu& c, uint64_t v) { c.gpr[kRip] = uint32_t(v); }
uint32_t rm32(Cpu& c, const Op& o) { return (o.cc & 1) ? c.rd<uint32_t>(ea(c, o)) : uint32_t(c.gpr[o.src >> 3]); }
}  // namespace

void jcc32(Cpu& c, const Op& o) {
  if (c.cond(o.cc)) set_eip(c, c.gpr[kRip] + o.imm);
}
void jmp_rel32(Cpu& c, const Op& o) { set_eip(c, c.gpr[kRip] + o.imm); }
void call_rel32(Cpu& c, const Op& o) {
  StackCursor s(c);
  s.push(uint32_t(c.gpr[kRip]), 4);
  s.commit();
  set_eip(c, c.gpr[kRip] + o.imm);
}
void jmp_ind32(Cpu& c, const Op& o) { set_eip(c, rm32(c, o)); }
void call_ind32(Cpu& c, const Op& o) {
  const uint32_t t = rm32(c, o);  // read the target before the push (CALL [ESP] uses the old ESP)
  StackCursor s(c);
  s.push(uint32_t(c.gpr[kRip]), 4);
  s.commit();
  set_eip(c, t);
}
void ret32(Cpu& c, const Op& o) {
  StackCursor s(c);
  const uint64_t t = s.pop(4);
  s.release(o.imm);
  s.commit();
  set_eip(c, t);
}

void push32(Cpu& c, const Op& o) {
  uint64_t v;
  if (o.cc == 0) v = c.gpr[o.src >> 3];          // PUSH ESP pushes the value before the decrement
  else if (o.cc == 1) v = rmem_w(c, ea(c, o), o.w);
  else v = o.imm;
  StackCursor s(c);
  s.push(trunc(v, o.w), o.w);
  s.commit();
}

void pop32(Cpu& c, const Op& o) {
  StackCursor s(c);
  const uint64_t v = s.pop(o.w);
  if (o.cc == 1) {  // POP m: the address is computed with the incremented ESP (APM vol. 3 "POP")
    const uint64_t old = c.gpr[RSP];
    s.commit();
    const Cpu::NoJump nj(c);  // the catch below restores state: this scope throws
    try {
      wmem_w(c, ea(c, o), o.w, v);
    } catch (...) {
      c.gpr[RSP] = old;
      throw;
    }
    return;
  }
  s.commit();
  wreg_w(c, o.dst, o.w, v);  // POP ESP: the popped value wins
}

void leave32(Cpu& c, const Op&) {
  const uint64_t old = c.gpr[RSP];
  c.gpr[RSP] = uint32_t(c.gpr[RBP]);
  const Cpu::NoJump nj(c);  // the catch below restores state: this scope throws
  try {
    StackCursor s(c);
    const uint64_t v = s.pop(4);
    s.commit();
    wreg<4>(c, reg_off(RBP), v);
  } catch (...) {
    c.gpr[RSP] = old;
    throw;
  }
}

void loop(Cpu& c, const Op& o) {
  uint64_t n = c.gpr[RCX];
  bool take;
  if (o.cc == 3) {
    take = (o.asz32 ? uint32_t(n) : n) == 0;
  } else {
    n = o.asz32 ? uint32_t(n - 1) : n - 1;  // LOOPcc decrements rCX (address-size wide) without touching flags
    wreg_w(c, reg_off(RCX), o.asz32 ? 4 : 8, n);
    take = n != 0 && (o.cc == 0 || (o.cc == 1 && c.zf()) || (o.cc == 2 && !c.zf()));
  }
  if (!take) return;
  c.gpr[kRip] += o.imm;
  if (o.w2) c.gpr[kRip] = uint32_t(c.gpr[kRip]);
}

void unsupported_16bit(Cpu& c, const Op& o) {
  throw CpuError(std::string("16-bit operand or address size (") + ZydisMnemonicGetString(ZydisMnemonic(o.mnem)) +
                 " at RIP " + std::to_string(c.cur_rip) + ") is not modelled");
}

}  // namespace redoubt::sim::cpu::exec
