// The sensitive but unprivileged queries: SMSW and the descriptor checks LAR,
// LSL, VERR, VERW. None of them faults at CPL 3 (CR4.UMIP is not modelled: a
// MOV CR4 setting bit 11 is #GP), so a deprivileged kernel reads the host's
// CR0 and the host's descriptors (docs/virtualization-holes.md).
#include "arch/svm/exit_codes.hpp"
#include "arch/x86/descriptors.hpp"
#include "arch/x86/paging.hpp"
#include "platform/sim/cpu/exec_decl.hpp"
#include "platform/sim/cpu/exec_mode.hpp"

namespace redoubt::sim::cpu::exec {

namespace s = redoubt::svm;

// SMSW r/m (APM vol. 3 "SMSW", Intel SDM vol. 2B "SMSW"). cc bit 0: memory (always 16 bits);
// a register gets CR0 truncated to the operand size (r16 keeps bits 63:16, r32 zero-extends).
void smsw(Cpu& c, const Op& o) {
  const Cpu::NoJump nj(c);  // the model's frames may own objects: faults inside it are thrown
  // APM vol. 2 §15.9 / Table 15-7: SMSW is checked by the CR0 read intercept, exit 0x00 CR0_READ.
  // EXITINFO1 = 0: the decode assist (§15.33.1, bit 63 = MOV CRx, GPR in 3:0) is for MOV CRx only.
  if (c.guest && (c.ctl.icpt_cr & 1)) return c.vmexit(s::kExitCr0Read, 0, 0);
  uint64_t v = c.cr0;
  // Intel VMX guest: host-owned CR0 bits read from the CR0 read shadow (Intel SDM vol. 3C §26.3).
  if (c.guest && c.vendor == Vendor::intel && c.host_vmx && c.host_vmx->guest_mov_cr(c, 0, false, 0, v)) return;
  if (o.cc & 1) c.wr<uint16_t>(ea(c, o), uint16_t(v));
  else wreg_w(c, o.dst, o.w, v);
}

namespace {

struct Desc {
  bool ok = false;  // within the GDT limit and not null
  uint64_t lo = 0, hi = 0;
};

// The descriptor for `sel` as LAR/LSL/VERR/VERW see it: a null selector or one beyond the
// table limit is "not accessible" (ZF = 0), never a fault (Intel SDM vol. 2A "LAR"). The LDT
// is not modelled (LDTR is always null), so TI = 1 is beyond the limit too.
Desc fetch(Cpu& c, uint16_t sel, bool want_hi) {
  Desc d;
  if ((sel & 0xFFFC) == 0 || (sel & 4)) return d;
  const uint32_t idx = sel & 0xFFF8u;
  if (idx + 7 > c.gdtr.limit) return d;
  const bool saved = c.implicit_sup;
  c.implicit_sup = true;  // descriptor-table reads are supervisor accesses (APM vol. 2 §5.6.3)
  const Cpu::NoJump nj(c);  // the catch below restores state: this scope throws
  try {
    d.lo = c.rd<uint64_t>(c.gdtr.base + idx);
    // IA-32e mode: a system descriptor is 16 bytes; its second half must lie within the limit.
    if (want_hi && !(d.lo & (1ull << 44))) {
      if (idx + 15 > c.gdtr.limit) {
        c.implicit_sup = saved;
        return d;
      }
      d.hi = c.rd<uint64_t>(c.gdtr.base + idx + 8);
    }
  } catch (...) {
    c.implicit_sup = saved;
    throw;
  }
  c.implicit_sup = saved;
  d.ok = true;
  return d;
}

uint16_t selector_operand(Cpu& c, const Op& o) {
  return (o.cc & 1) ? c.rd<uint16_t>(ea(c, o)) : uint16_t(c.gpr[o.src >> 3]);
}

void set_zf(Cpu& c, bool z) { c.set_status((c.status_flags() & ~kZF) | (z ? kZF : 0)); }

// DPL >= CPL and DPL >= RPL, the rule for data, non-conforming code and system descriptors.
bool privileged_ok(const Cpu& c, uint16_t sel, uint64_t lo) {
  const unsigned dpl = (lo >> 45) & 3;
  return dpl >= c.cpl && dpl >= (sel & 3u);
}

// LAR / LSL: is the descriptor's type one the instruction reports? (Intel SDM vol. 2A "LAR"
// Table 3-52 and vol. 2A "LSL" Table 3-60; APM vol. 3 "LAR", "LSL".)
bool valid_for(const Cpu& c, const Desc& d, bool lsl) {
  const bool code_or_data = d.lo & (1ull << 44);
  if (code_or_data) return true;  // every code/data type is valid; privilege is checked by the caller
  const unsigned type = (d.lo >> 40) & 0xF;
  if (c.efer & x86::kEferLma) {
    // IA-32e mode (64-bit and compatibility): LDT (2), 64-bit TSS available/busy (9, B), and
    // for LAR the 64-bit call gate (C); the upper half's type field must be 0 (SDM "LAR").
    if (((d.hi >> 40) & 0x1F) != 0) return false;
    return type == 2 || type == 9 || type == 0xB || (!lsl && type == 0xC);
  }
  // Legacy mode: 16-bit TSS (1, 3), LDT (2), 32-bit TSS (9, B); LAR also gates 4, 5, C.
  switch (type) {
    case 1: case 2: case 3: case 9: case 0xB: return true;
    case 4: case 5: case 0xC: return !lsl;
    default: return false;
  }
}

// Common part of LAR and LSL: true (and the descriptor in d) if the checks pass.
bool accessible(Cpu& c, uint16_t sel, bool lsl, Desc& d) {
  d = fetch(c, sel, c.efer & x86::kEferLma);  // IA-32e mode: 16-byte system descriptors
  if (!d.ok || !valid_for(c, d, lsl)) return false;
  const bool conforming_code = (d.lo & (1ull << 44)) && ((d.lo >> 43) & 1) && ((d.lo >> 42) & 1);
  return conforming_code || privileged_ok(c, sel, d.lo);  // conforming code: no DPL check
}

}  // namespace

// LAR r, r/m16: ZF = 1 and r = the access rights (descriptor bytes 5-6 masked with 00F0FF00h
// for 32/64-bit operands, FF00h for 16-bit); ZF = 0 and r unchanged otherwise. The P bit is
// not checked. cc bit 0: memory source.
void lar(Cpu& c, const Op& o) {
  const uint16_t sel = selector_operand(c, o);
  Desc d;
  const bool ok = accessible(c, sel, false, d);
  set_zf(c, ok);
  if (!ok) return;
  const uint64_t ar = (d.lo >> 32) & (o.w == 2 ? 0xFF00u : 0x00F0FF00u);
  wreg_w(c, o.dst, o.w, ar);
}

// LSL r, r/m16: ZF = 1 and r = the byte-granular segment limit (G = 1: limit << 12 | FFFh),
// truncated to the operand size; ZF = 0 and r unchanged otherwise.
void lsl(Cpu& c, const Op& o) {
  const uint16_t sel = selector_operand(c, o);
  Desc d;
  const bool ok = accessible(c, sel, true, d);
  set_zf(c, ok);
  if (!ok) return;
  wreg_w(c, o.dst, o.w, x86::desc_limit(d.lo));
}

// VERR / VERW r/m16 (Intel SDM vol. 2B "VERR/VERW", APM vol. 3): ZF = 1 if the segment is
// readable / writable from CPL with the selector's RPL. cc bit 0: memory, bit 1: VERW.
void verrw(Cpu& c, const Op& o) {
  const bool write = o.cc & 2;
  const uint16_t sel = selector_operand(c, o);
  const Desc d = fetch(c, sel, false);
  bool ok = false;
  if (d.ok && (d.lo & (1ull << 44))) {  // system descriptors: ZF = 0
    const bool code = (d.lo >> 43) & 1, conforming = code && ((d.lo >> 42) & 1);
    const bool rw = (d.lo >> 41) & 1;  // code: readable; data: writable
    if (write) ok = !code && rw && privileged_ok(c, sel, d.lo);
    else ok = (!code || rw) && (conforming || privileged_ok(c, sel, d.lo));
  }
  set_zf(c, ok);
}

}  // namespace redoubt::sim::cpu::exec
