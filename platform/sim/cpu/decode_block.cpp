// Cpu::decode_block: decode a run of instructions once (Zydis), choose each one's handler
// (decode.cpp, decode_mode.cpp), compute flag liveness inside the block, and register the block
// on its code page(s) so writes there invalidate it.
#include <Zydis/Zydis.h>

#include <cstring>
#include <memory>
#include <vector>

#include "platform/sim/cpu/decode.hpp"
#include "platform/sim/cpu/exec_decl.hpp"
#include "platform/sim/cpu/exec_mode.hpp"

namespace redoubt::sim::cpu {

constexpr unsigned kMaxBlockOps = 64;  // instructions per decoded block

struct DecodeAccess {
  static ZydisDecoder* dec(Cpu& c) { return static_cast<ZydisDecoder*>(c.decoders_); }
};

Block* Cpu::decode_block(uint64_t va, uint64_t pa, uint64_t key) {
  const NoJump nj(*this);  // this frame owns the block being built: a fetch fault here is thrown
  auto blk = std::make_unique<Block>();
  blk->pa = pa;
  blk->epoch = code_epoch_;
  ZydisDecoder* dec = DecodeAccess::dec(*this) + unsigned(mode_);  // the decoder of the current mode
  std::vector<uint8_t> tested, written;  // per op: flags read / fully written
  uint64_t cur_va = va, cur_pa = pa;
  for (unsigned n = 0; n < kMaxBlockOps; ++n) {
    const uint64_t in_page = 4096 - (cur_pa & 0xFFF);
    uint8_t buf[16] = {};
    const uint8_t* p = host_ptr(cur_pa, in_page < 15 ? in_page : 15);
    if (!p) throw CpuError("instruction fetch from outside RAM");
    const uint64_t avail = in_page < 15 ? in_page : 15;
    std::memcpy(buf, p, avail);
    ZydisDecodedInstruction ins;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    ZyanStatus st = ZydisDecoderDecodeFull(dec, buf, avail, &ins, ops);
    bool straddle = false;
    uint64_t pa2 = ~0ull;
    if (!ZYAN_SUCCESS(st) && avail < 15) {
      // Possibly an instruction that continues on the next page.
      if (n > 0) break;  // end the block here; the straddling instruction starts its own block
      pa2 = translate((cur_va | 0xFFF) + 1, kFetch);
      const uint8_t* q = host_ptr(pa2, 15 - avail);
      if (!q) throw CpuError("instruction fetch from outside RAM");
      std::memcpy(buf + avail, q, 15 - avail);
      st = ZydisDecoderDecodeFull(dec, buf, 15, &ins, ops);
      if (ZYAN_SUCCESS(st) && ins.length > avail) {
        straddle = true;
        blk->pa2 = pa2;
      }
    }
    Op o;
    DecodeInfo info;
    unsigned examined = 0;  // bytes the decision depends on, when more than the op's length
    if (!ZYAN_SUCCESS(st)) {
      // Undecodable (or longer than 15 bytes): #UD when executed. The verdict depends on every byte
      // the decoder looked at, so all of them are kept for revalidation: keeping only the first let
      // new code that starts with the same byte (e.g. a valid LOCK instruction after an invalid one)
      // run the stale #UD (cpu_difftest seed 6714 only=alu,xchg).
      o.fn = &exec::ud;
      o.len = 1;
      info.ends = true;
      examined = unsigned(avail);
      if (pa2 != ~0ull) {  // the next page's bytes were read too
        examined = 15;
        blk->pa2 = pa2;
      }
    } else {
      o.len = ins.length;
      o.mnem = uint16_t(ins.mnemonic);
      bool ok;
      if (mode_ != Mode::long64 && (ins.attributes & ZYDIS_ATTRIB_HAS_ADDRESSSIZE)) {
        o.fn = &exec::unsupported_16bit;  // 16-bit addressing in 32-bit code: not modelled (CpuError)
        info.ends = info.may_fault = true;
        ok = true;
      } else {
        ok = select_by_mode(ins, ops, mode_, o, info) || select(ins, ops, o, info);
      }
      if (!ok) {
        o = Op{};
        o.fn = &exec::ud;
        o.len = ins.length;
        o.mnem = uint16_t(ins.mnemonic);
        info.ends = true;
      }
    }
    const uint8_t* src = buf;
    blk->bytes.insert(blk->bytes.end(), src, src + (examined > o.len ? examined : o.len));
    // Flag liveness inputs (Zydis' accessed-flags tables; conservative for faulting ops).
    uint32_t t = 0xFFFFFFFF, wr = 0;
    if (ZYAN_SUCCESS(st) && ins.cpu_flags) {
      t = ins.cpu_flags->tested;
      wr = ins.cpu_flags->modified | ins.cpu_flags->set_0 | ins.cpu_flags->set_1 | ins.cpu_flags->undefined;
      if (info.may_fault || info.ends) t = 0xFFFFFFFF;
      // A shift/rotate by CL may have count 0 and then writes nothing.
      const bool sh = o.mnem == ZYDIS_MNEMONIC_SHL || o.mnem == ZYDIS_MNEMONIC_SHR || o.mnem == ZYDIS_MNEMONIC_SAR ||
                      o.mnem == ZYDIS_MNEMONIC_ROL || o.mnem == ZYDIS_MNEMONIC_ROR;
      if (o.mnem == ZYDIS_MNEMONIC_SHLD || o.mnem == ZYDIS_MNEMONIC_SHRD) {  // the count is operand 2
        if (ops[2].type == ZYDIS_OPERAND_TYPE_REGISTER || (ops[2].imm.value.u & (ops[0].size == 64 ? 0x3F : 0x1F)) == 0)
          wr = 0;
      }
      if (sh && ins.operand_count_visible == 2 && ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER) wr = 0;
      // The count is masked to 5 bits (6 with REX.W) before the zero test (APM vol. 3 "SHL"): an
      // immediate 32 on a 32-bit or narrower operand writes nothing either (cpu_difftest seed 2355).
      if (sh && ins.operand_count_visible == 2 && ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
          (ops[1].imm.value.u & (ops[0].size == 64 ? 0x3F : 0x1F)) == 0) wr = 0;
    }
    constexpr uint32_t kStatus = 0x8D5;  // CF PF AF ZF SF OF in RFLAGS bit positions
    tested.push_back((t & kStatus) != 0);
    written.push_back((wr & kStatus) == kStatus);
    blk->ops.push_back(o);
    cur_va += o.len;
    cur_pa += o.len;
    if (info.ends || straddle || (cur_pa & 0xFFF) == 0) break;
  }
  // Backward liveness: flags are live at the block end.
  bool live = true;
  for (size_t i = blk->ops.size(); i-- > 0;) {
    blk->ops[i].flags_dead = !live;
    live = tested[i] || (!written[i] && live);
  }
  // The first op keeps its flags: an interrupt shadow runs a block's first instruction alone and
  // may then deliver an interrupt, which pushes RFLAGS (cpu.cpp, run loop).
  if (!blk->ops.empty()) blk->ops[0].flags_dead = false;
  for (Op& o : blk->ops)
    if (o.flags_dead) o.fn = flagless_variant(o.fn);
  // Register the block on its page(s) and protect them from the write fast path.
  Block* b = blk.get();
  for (uint64_t page : {uint64_t(pa >> 12), uint64_t(b->pa2 == ~0ull ? ~0ull : b->pa2 >> 12)}) {
    if (page == ~0ull || page >= code_pages_.size()) continue;
    if (code_pages_[page]++ == 0) {
      uint8_t* host = host_ptr(page << 12, 4096);
      for (unsigned i = 0; i < kBanks; ++i)
        if (banks_[i].last_use != 0)  // a bank no context ever selected holds no entries
          for (auto& e : banks_[i].e)
            if (e.host == host) e.tag_w = 1;
    }
    page_blocks_[page].push_back(key);
  }
  blocks_[key] = std::move(blk);
  ++counters.blocks_decoded;
  return b;
}

}  // namespace redoubt::sim::cpu
