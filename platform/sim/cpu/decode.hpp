// Shared by the decoders (decode.cpp, decode_mode.cpp) and the block builder (decode_block.cpp): Zydis operands -> Op fields.
#pragma once
#include <Zydis/Zydis.h>

#include "platform/sim/cpu/cpu.hpp"

namespace redoubt::sim::cpu {

struct DecodeInfo {
  bool ends = false;       // ends the block (control flow, system state)
  bool may_fault = false;  // exposes RFLAGS (memory access, #DE, intercept)
};

int gpr_off(ZydisRegister r);    // byte offset into Cpu::gpr, or -1
int gpr_index(ZydisRegister r);  // address register index (kZero for none, kRip), or -1
uint8_t seg_number(ZydisRegister r);  // ES..GS -> 0..5 (index into Cpu::seg_base); others -> DS
// Fills base/index/scale/disp/seg/asz32 from the first visible memory operand; false if none
// or its registers cannot be addressed.
bool set_mem_operand(const ZydisDecodedInstruction& in, const ZydisDecodedOperand* ops, Op& o);

// The mode-independent table: fills o.fn and the operand fields; false: not supported (#UD).
bool select(const ZydisDecodedInstruction& in, const ZydisDecodedOperand* ops, Op& o, DecodeInfo& info);

// Instructions whose meaning depends on the mode (stack and EIP width, far transfers, IRET,
// LOOP, segment-register push/pop, LGDT operand size). Returns true when it decided o.fn
// (exec::ud for forms that do not exist); false: the generic table decides.
bool select_by_mode(const ZydisDecodedInstruction& in, const ZydisDecodedOperand* ops, Mode mode, Op& o,
                    DecodeInfo& info);

// The handler that skips writing the status flags, for an op whose flags the block's liveness
// pass proved dead (ALU and INC/DEC/NEG forms; decode_flagless.cpp); h itself for any other.
Handler flagless_variant(Handler h);

}  // namespace redoubt::sim::cpu
