// Zydis -> Op for the instructions whose meaning depends on the mode: far
// transfers, IRET, LOOP/JrCXZ, segment-register PUSH/POP and LGDT/LIDT in
// every mode; near transfers and stack operations in 32-bit code (decided
// here, at decode time, so the 64-bit handlers carry no mode checks).
#include "arch/x86/descriptors.hpp"
#include "platform/sim/cpu/decode.hpp"
#include "platform/sim/cpu/exec_decl.hpp"
#include "platform/sim/cpu/exec_mode.hpp"

namespace redoubt::sim::cpu {

using namespace exec;

namespace {

uint64_t imm_of(const ZydisDecodedOperand& op) { return op.imm.is_signed ? uint64_t(op.imm.value.s) : op.imm.value.u; }

bool choose(Op& o, DecodeInfo& info, Handler fn, bool ends) {
  o.fn = fn;
  info.may_fault = true;
  info.ends = info.ends || ends;
  return true;
}

}  // namespace

bool select_by_mode(const ZydisDecodedInstruction& in, const ZydisDecodedOperand* ops, Mode mode, Op& o,
                    DecodeInfo& info) {
  const ZydisMnemonic m = in.mnemonic;
  const bool m64 = mode == Mode::long64;
  const bool far = in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR;
  const unsigned opw = in.operand_width / 8;
  const unsigned nv = in.operand_count_visible;
  const auto kind0 = nv ? ops[0].type : ZYDIS_OPERAND_TYPE_UNUSED;
  auto unsupported16 = [&] { return choose(o, info, &unsupported_16bit, true); };

  switch (m) {
    case ZYDIS_MNEMONIC_JMP:
    case ZYDIS_MNEMONIC_CALL: {
      const bool jmp = m == ZYDIS_MNEMONIC_JMP;
      if (far) {  // ptr16:32 (not in 64-bit mode), m16:32, m16:64 (REX.W)
        if (opw == 2) return unsupported16();
        o.w = uint8_t(opw);
        if (kind0 == ZYDIS_OPERAND_TYPE_POINTER) {
          o.cc = 0;
          o.imm = uint64_t(ops[0].ptr.offset) | (uint64_t(ops[0].ptr.segment) << 32);
        } else {
          if (!set_mem_operand(in, ops, o)) return choose(o, info, &exec::ud, true);
          o.cc = 1;
        }
        return choose(o, info, jmp ? &far_jmp : &far_call, true);
      }
      if (m64) return false;
      if (opw != 4) return unsupported16();
      if (kind0 == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        o.imm = imm_of(ops[0]);
        return choose(o, info, jmp ? &jmp_rel32 : &call_rel32, true);
      }
      if (kind0 == ZYDIS_OPERAND_TYPE_REGISTER) {
        const int r = gpr_off(ops[0].reg.value);
        if (r < 0) return choose(o, info, &exec::ud, true);
        o.src = uint8_t(r);
        o.cc = 0;
      } else {
        if (!set_mem_operand(in, ops, o)) return choose(o, info, &exec::ud, true);
        o.cc = 1;
      }
      return choose(o, info, jmp ? &jmp_ind32 : &call_ind32, true);
    }
    case ZYDIS_MNEMONIC_RET:
      if (far) {
        if (opw == 2) return unsupported16();
        o.w = uint8_t(opw);  // 64-bit mode: 4 (CB) or 8 (REX.W CB)
        o.imm = nv ? imm_of(ops[0]) : 0;
        return choose(o, info, &far_ret, true);
      }
      if (m64) return false;
      if (opw != 4) return unsupported16();
      o.imm = nv ? imm_of(ops[0]) : 0;
      return choose(o, info, &ret32, true);
    case ZYDIS_MNEMONIC_IRET: return unsupported16();
    case ZYDIS_MNEMONIC_IRETD:
    case ZYDIS_MNEMONIC_IRETQ:
      o.w = m == ZYDIS_MNEMONIC_IRETQ ? 8 : 4;
      return choose(o, info, &exec::iret, true);
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE:
    case ZYDIS_MNEMONIC_JECXZ:
    case ZYDIS_MNEMONIC_JRCXZ:
    case ZYDIS_MNEMONIC_JCXZ:
      if (m == ZYDIS_MNEMONIC_JCXZ || (!m64 && opw == 2)) return unsupported16();
      o.cc = m == ZYDIS_MNEMONIC_LOOP ? 0 : m == ZYDIS_MNEMONIC_LOOPE ? 1 : m == ZYDIS_MNEMONIC_LOOPNE ? 2 : 3;
      o.imm = imm_of(ops[0]);
      o.asz32 = in.address_width == 32;
      o.w2 = m64 ? 0 : 1;
      return choose(o, info, &exec::loop, true);
    case ZYDIS_MNEMONIC_PUSH:
    case ZYDIS_MNEMONIC_POP: {
      const bool push = m == ZYDIS_MNEMONIC_PUSH;
      if (kind0 == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(ops[0].reg.value) == ZYDIS_REGCLASS_SEGMENT) {
        o.cc = seg_number(ops[0].reg.value);
        o.w = uint8_t(opw);
        return choose(o, info, push ? &push_sreg : &pop_sreg, !push);
      }
      if (m64) return false;
      if (opw != 2 && opw != 4) return choose(o, info, &exec::ud, true);
      o.w = uint8_t(opw);
      if (kind0 == ZYDIS_OPERAND_TYPE_REGISTER) {
        const int r = gpr_off(ops[0].reg.value);
        if (r < 0) return choose(o, info, &exec::ud, true);
        if (push) o.src = uint8_t(r);
        else o.dst = uint8_t(r);
        o.cc = 0;
      } else if (kind0 == ZYDIS_OPERAND_TYPE_MEMORY) {
        if (!set_mem_operand(in, ops, o)) return choose(o, info, &exec::ud, true);
        o.cc = 1;
      } else {
        o.cc = 2;
        o.imm = imm_of(ops[0]);
      }
      return choose(o, info, push ? &push32 : &pop32, false);
    }
    case ZYDIS_MNEMONIC_LEAVE:
      if (m64) return false;
      if (opw != 4) return unsupported16();
      return choose(o, info, &leave32, false);
    case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_POPFD: case ZYDIS_MNEMONIC_POPF:
      o.w = uint8_t(opw);
      return choose(o, info, (m == ZYDIS_MNEMONIC_PUSHFD || m == ZYDIS_MNEMONIC_PUSHF) ? &pushf : &popf, true);
    case ZYDIS_MNEMONIC_LGDT: case ZYDIS_MNEMONIC_LIDT: case ZYDIS_MNEMONIC_SGDT: case ZYDIS_MNEMONIC_SIDT:
      if (!set_mem_operand(in, ops, o)) return choose(o, info, &exec::ud, true);
      o.cc = m == ZYDIS_MNEMONIC_LGDT ? 0 : m == ZYDIS_MNEMONIC_LIDT ? 1 : m == ZYDIS_MNEMONIC_SGDT ? 2 : 3;
      o.w2 = uint8_t(opw);  // 2: LGDT/LIDT take a 24-bit base outside 64-bit mode
      return choose(o, info, &desc_table, true);
    default: break;
  }
  // Jcc rel8/rel32 in 32-bit code (opcodes 70-7F, 0F 80-8F: the low nibble is the condition).
  if (!m64 && in.meta.category == ZYDIS_CATEGORY_COND_BR && kind0 == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
      ((in.opcode & 0xF0) == 0x70 || (in.opcode & 0xF0) == 0x80)) {
    if (opw != 4) return unsupported16();
    o.cc = uint8_t(in.opcode & 0xF);
    o.imm = imm_of(ops[0]);
    o.fn = &jcc32;
    info.ends = true;
    return true;
  }
  return false;
}

}  // namespace redoubt::sim::cpu
