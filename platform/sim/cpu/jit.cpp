// The translator's frame: the code arena, a block's prologue and exits, the soft-TLB fast path
// for guest memory, and calls to the interpreter's handlers for what is not translated inline.
#include "platform/sim/cpu/jit.hpp"

#include <sys/mman.h>

#include <deque>

#include "platform/sim/cpu/flags.hpp"
#include "platform/sim/cpu/jit_emit.hpp"

namespace redoubt::sim::cpu {

using Xbyak::Address;
using Xbyak::Label;
using Xbyak::Reg64;

// The helpers translated code calls. None lets a C++ exception reach translated code (it has
// no unwind tables): each catches, parks the exception in the Cpu and reports failure; the block
// then returns and Cpu::dispatch rethrows. A guest fault raised with Cpu::raise still jumps to
// the run loop (__builtin_longjmp needs no unwinding).
struct JitAccess {
  static bool call(Cpu* c, const Op* o) {
    try {
      o->fn(*c, *o);
      return true;
    } catch (...) {
      c->jit_exc_ = std::current_exception();
      c->jit_failed_ = true;
      return false;
    }
  }
  static uint64_t rd(Cpu* c, uint64_t va, uint64_t n) {
    try {
      const uint64_t v = c->rd_slow(va, unsigned(n));
      return n == 8 ? v : v & ((1ull << (8 * n)) - 1);  // as rd<T> truncates it
    } catch (...) {
      c->jit_exc_ = std::current_exception();
      c->jit_failed_ = true;
      return 0;
    }
  }
  static void wr(Cpu* c, uint64_t va, uint64_t n, uint64_t v) {
    try {
      c->wr_slow(va, unsigned(n), v);
    } catch (...) {
      c->jit_exc_ = std::current_exception();
      c->jit_failed_ = true;
    }
  }
  static uint64_t cond(Cpu* c, uint64_t cc) { return c->cond(unsigned(cc)); }

  static JitOffsets offsets(Cpu& c) {
    auto at = [&](const void* p) { return int32_t(static_cast<const uint8_t*>(p) - reinterpret_cast<uint8_t*>(&c)); };
    return JitOffsets{at(c.gpr),        at(&c.cur_rip), at(&c.icount),     at(&c.lz_op),      at(&c.lz_w),
                      at(&c.lz_res),    at(&c.lz_dst),  at(&c.lz_src),     at(&c.lz_carry),   at(&c.stop_block_),
                      at(&c.stlb_),     at(c.seg_base), at(&c.jit_failed_)};
  }
  // The soft-TLB entry layout the fast path reads (Cpu::SoftTlb).
  static constexpr int32_t kTagR = offsetof(Cpu::SoftTlb, tag_r), kTagW = offsetof(Cpu::SoftTlb, tag_w),
                           kHost = offsetof(Cpu::SoftTlb, host);
  static constexpr unsigned kEntry = sizeof(Cpu::SoftTlb), kEntries = Cpu::kStlb;
  static_assert(sizeof(Cpu::SoftTlb) == 24 && kTagR == 0 && kTagW == 8 && kHost == 16);
  static_assert(Cpu::kStlb == 256, "the fast path indexes with one byte of the page number");
  static_assert(sizeof(LazyOp) == 1 && sizeof(bool) == 1);
};

namespace {
constexpr size_t kArena = 32u << 20;  // per CPU; when full every translation is dropped
constexpr size_t kMaxBlockCode = 64u << 10;
}  // namespace

Jit::Jit(Cpu& c) : c_(c) {
  void* p = mmap(nullptr, kArena, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p != MAP_FAILED) {
    arena_ = static_cast<uint8_t*>(p);
    size_ = kArena;
  }
}

Jit::~Jit() {
  if (arena_) munmap(arena_, size_);
}

JitFn Jit::compile(const Block& b, uint64_t& native_ops, uint64_t& helper_ops) {
  if (!arena_ || size_ - used_ < kMaxBlockCode) return nullptr;
  static_assert(sizeof(JitOffsets) > 0);
  const JitOffsets off = JitAccess::offsets(c_);
  Emitter e(kMaxBlockCode, arena_ + used_, off);
  e.block(b);
  native_ops += e.native_ops;
  helper_ops += e.helper_ops;
  const JitFn fn = reinterpret_cast<JitFn>(const_cast<uint8_t*>(e.getCode()));
  used_ += (e.getSize() + 15) & ~size_t(15);
  return fn;
}

// ---------------------------------------------------------------- emitter: registers, memory

Address Emitter::field(int32_t off, unsigned w) {
  switch (w) {
    case 1: return byte[rbx + off];
    case 2: return word[rbx + off];
    case 4: return dword[rbx + off];
    default: return qword[rbx + off];
  }
}

Address Emitter::g(unsigned byte_off, unsigned w) { return field(o_.gpr + int32_t(byte_off), w); }

// ---------------------------------------------------------------- emitter: the register cache

Reg64 Emitter::slot_reg(unsigned s) {
  static constexpr int kHost[kSlots] = {Xbyak::Operand::R8,  Xbyak::Operand::R9,  Xbyak::Operand::R10,
                                        Xbyak::Operand::R11, Xbyak::Operand::RSI, Xbyak::Operand::RDI};
  return Reg64(kHost[s]);
}

int Emitter::cached(unsigned guest) const {
  for (unsigned s = 0; s < kSlots; ++s)
    if (cache_[s].guest == int8_t(guest)) return int(s);
  return -1;
}

// A slot for `guest` (not cached yet): a free one or the least recently used, stored first if
// dirty; `load` fills it from gpr[] (a read, or a partial write that keeps the other bytes).
unsigned Emitter::slot_for(unsigned guest, bool load) {
  unsigned best = 0;
  for (unsigned s = 0; s < kSlots; ++s) {
    if (cache_[s].guest < 0) {
      best = s;
      break;
    }
    if (cache_[s].used < cache_[best].used) best = s;
  }
  Slot& sl = cache_[best];
  if (sl.guest >= 0 && sl.dirty) mov(g(unsigned(sl.guest) * 8, 8), slot_reg(best));
  sl = Slot{int8_t(guest), false, ++tick_};
  if (load) mov(slot_reg(best), g(guest * 8, 8));
  return best;
}

Reg64 Emitter::read_gpr(unsigned guest) {
  int s = cached(guest);
  if (s < 0) s = int(slot_for(guest, true));
  cache_[s].used = ++tick_;
  return slot_reg(unsigned(s));
}

void Emitter::writeback(unsigned guest) {
  const int s = cached(guest);
  if (s < 0 || !cache_[s].dirty) return;
  mov(g(guest * 8, 8), slot_reg(unsigned(s)));
  cache_[s].dirty = false;
}

void Emitter::writeback_all() {
  for (unsigned s = 0; s < kSlots; ++s) {
    if (cache_[s].guest < 0 || !cache_[s].dirty) continue;
    mov(g(unsigned(cache_[s].guest) * 8, 8), slot_reg(s));
    cache_[s].dirty = false;
  }
}

void Emitter::flush_all() {
  writeback_all();
  cache_ = Cache{};
}

void Emitter::spill(const Cache& snap) {
  for (unsigned s = 0; s < kSlots; ++s)
    if (snap[s].guest >= 0 && snap[s].dirty) mov(g(unsigned(snap[s].guest) * 8, 8), slot_reg(s));
}

void Emitter::reload(const Cache& snap) {
  for (unsigned s = 0; s < kSlots; ++s)
    if (snap[s].guest >= 0) mov(slot_reg(s), g(unsigned(snap[s].guest) * 8, 8));
}

// Guest register reads and writes of width w at a byte offset into gpr[] (AH..BH are offsets
// 1, 9, 17, 25: those go through memory, after the cached register is stored or dropped).
void Emitter::load_reg(const Reg64& r, unsigned byte_off, unsigned w) {
  const unsigned guest = byte_off / 8;
  if (byte_off % 8 != 0 || guest >= 16) {
    if (guest < 16) writeback(guest);
    switch (w) {
      case 1: movzx(r.cvt32(), g(byte_off, 1)); break;
      case 2: movzx(r.cvt32(), g(byte_off, 2)); break;
      case 4: mov(r.cvt32(), g(byte_off, 4)); break;
      default: mov(r, g(byte_off, 8)); break;
    }
    return;
  }
  const Reg64 h = read_gpr(guest);
  switch (w) {
    case 1: movzx(r.cvt32(), h.cvt8()); break;
    case 2: movzx(r.cvt32(), h.cvt16()); break;
    case 4: mov(r.cvt32(), h.cvt32()); break;
    default: mov(r, h); break;
  }
}

void Emitter::store_reg(unsigned byte_off, unsigned w, const Reg64& r) {
  const unsigned guest = byte_off / 8;
  if (byte_off % 8 != 0 || guest >= 16) {  // a high byte register (w = 1)
    if (guest < 16) {
      writeback(guest);
      const int s = cached(guest);
      if (s >= 0) cache_[s] = Slot{};
    }
    mov(g(byte_off, 1), r.cvt8());
    return;
  }
  int s = cached(guest);
  if (s < 0) s = int(slot_for(guest, w < 4));  // an 8- or 16-bit write keeps the other bytes
  cache_[s].used = ++tick_;
  cache_[s].dirty = true;
  const Reg64 h = slot_reg(unsigned(s));
  switch (w) {
    case 1: mov(h.cvt8(), r.cvt8()); break;
    case 2: mov(h.cvt16(), r.cvt16()); break;
    case 4: mov(h.cvt32(), r.cvt32()); break;  // 32-bit writes zero-extend (APM vol. 1 §3.4.5)
    default: mov(h, r); break;
  }
}

// Effective address as exec::ea computes it, into r12, with flag-free instructions only.
void Emitter::ea(const Op& op, bool with_seg) {
  int64_t disp = op.disp;
  if (op.base == kRip) {  // RIP-relative: RIP is the next instruction's (the interpreter advanced it)
    disp += int64_t(next_);
    if (disp == int32_t(disp)) {
      lea(r12, ptr[r13 + int32_t(disp)]);
    } else {
      mov(rax, uint64_t(disp));
      lea(r12, ptr[r13 + rax]);
    }
    disp = 0;
  } else if (op.base == kZero) {
    mov(r12, uint64_t(disp));
    disp = 0;
  } else if (op.index != kZero) {
    const Reg64 b = read_gpr(op.base);
    const Reg64 x = read_gpr(op.index);
    lea(r12, ptr[b + x * (1 << op.scale)]);
  } else {
    mov(r12, read_gpr(op.base));
  }
  if (op.index != kZero && (op.base == kRip || op.base == kZero)) {
    lea(r12, ptr[r12 + read_gpr(op.index) * (1 << op.scale)]);
  }
  if (disp != 0) {
    if (disp == int32_t(disp)) {
      lea(r12, ptr[r12 + int32_t(disp)]);
    } else {
      mov(rax, uint64_t(disp));
      lea(r12, ptr[r12 + rax]);
    }
  }
  if (op.asz32) mov(r12d, r12d);
  // 64-bit mode: only FS and GS have a base (APM vol. 2 §4.5.3; Cpu::update_mode keeps the rest 0).
  if (with_seg && (op.seg == 4 || op.seg == 5)) {
    mov(rax, field(o_.seg_base + int32_t(op.seg) * 8, 8));
    lea(r12, ptr[r12 + rax]);
  }
}

// The soft-TLB lookup of Cpu::rd/wr: entry = bank[(va >> 12) & 255], hit when the page of the
// access's last byte is the entry's tag (an access straddling into the next page cannot match:
// that page indexes the next entry). Leaves &entry in rdx.
namespace {
void tlb_probe(Emitter& e, unsigned w, int32_t tag, Label& slow) {
  e.mov(e.rax, e.r12);
  e.shr(e.rax, 12);
  e.movzx(e.eax, e.al);
  e.lea(e.rax, e.ptr[e.rax + e.rax * 2]);
  e.lea(e.rdx, e.ptr[e.r15 + e.rax * 8]);
  if (w == 1) e.mov(e.rax, e.r12);
  else e.lea(e.rax, e.ptr[e.r12 + int32_t(w - 1)]);
  e.and_(e.rax, -4096);
  e.cmp(e.rax, e.qword[e.rdx + tag]);
  e.jne(slow, Emitter::T_NEAR);
  e.mov(e.rdx, e.qword[e.rdx + JitAccess::kHost]);
  e.mov(e.eax, e.r12d);
  e.and_(e.eax, 0xFFF);
}
}  // namespace

// The cold path of an access that missed the soft TLB: the interpreter's state as at this
// instruction (cur_rip, RIP, icount; the cache's dirty registers), then rd(cpu, va, n) -> rax or
// wr(cpu, va, n, v = rcx), which may fault; on success the cache's registers are reloaded (the
// call clobbered them; rax and rcx are untouched by sync and the spill) and the hot path goes on.
void Emitter::slow_access(uint64_t fn, unsigned w, Xbyak::Label* slow, Xbyak::Label* cont) {
  const unsigned i = idx_;
  const uint32_t off = off_, next = next_;
  cold_.push_back([this, fn, slow, cont, w, i, off, next, snap = cache_] {
    L(*slow);
    const unsigned si = idx_;
    const uint32_t so = off_, sn = next_;
    idx_ = i, off_ = off, next_ = next;
    sync();  // uses rax only
    idx_ = si, off_ = so, next_ = sn;
    spill(snap);
    mov(rdi, rbx);
    mov(rsi, r12);
    mov(edx, w);
    mov(rax, fn);
    call(rax);
    cmp(field(o_.jit_failed, 1), 0);
    jne(exit_, T_NEAR);
    reload(snap);
    jmp(*cont, T_NEAR);
    delete slow;
    delete cont;
  });
}

void Emitter::load_mem(unsigned w) {
  auto* slow = new Label;
  auto* cont = new Label;
  tlb_probe(*this, w, JitAccess::kTagR, *slow);
  hf_ = false;
  switch (w) {
    case 1: movzx(eax, byte[rdx + rax]); break;
    case 2: movzx(eax, word[rdx + rax]); break;
    case 4: mov(eax, dword[rdx + rax]); break;
    default: mov(rax, qword[rdx + rax]); break;
  }
  L(*cont);
  slow_access(reinterpret_cast<uint64_t>(&JitAccess::rd), w, slow, cont);
}

void Emitter::store_mem(unsigned w) {
  auto* slow = new Label;
  auto* cont = new Label;
  tlb_probe(*this, w, JitAccess::kTagW, *slow);
  hf_ = false;
  switch (w) {
    case 1: mov(byte[rdx + rax], cl); break;
    case 2: mov(word[rdx + rax], cx); break;
    case 4: mov(dword[rdx + rax], ecx); break;
    default: mov(qword[rdx + rax], rcx); break;
  }
  L(*cont);
  slow_access(reinterpret_cast<uint64_t>(&JitAccess::wr), w, slow, cont);
}

// What the interpreter's loop holds while instruction idx_ runs: cur_rip = its address, RIP = the
// next one's, icount = the instructions retired before it.
void Emitter::sync() {
  lea(rax, ptr[r13 + int32_t(off_)]);
  mov(field(o_.cur_rip, 8), rax);
  lea(rax, ptr[r13 + int32_t(next_)]);
  mov(field(o_.gpr + kRip * 8, 8), rax);
  lea(rax, ptr[r14 + int32_t(idx_)]);
  mov(field(o_.icount, 8), rax);
}

// A store may have written decoded code or a device may have asked to stop (Cpu::note_code_write,
// request_stop): the interpreter ends the block after this instruction, and so does this.
void Emitter::stop_check() {
  auto* out = new Label;
  cmp(field(o_.stop_block, 1), 0);
  jne(*out, T_NEAR);
  hf_ = false;
  const unsigned i = idx_;
  const uint32_t off = off_, next = next_;
  const bool rip_done = wrote_rip_;
  cold_.push_back([this, out, i, off, next, rip_done, snap = cache_] {
    L(*out);
    spill(snap);
    if (!rip_done) {
      lea(rax, ptr[r13 + int32_t(next)]);
      mov(field(o_.gpr + kRip * 8, 8), rax);
    }
    lea(rax, ptr[r13 + int32_t(off)]);
    mov(field(o_.cur_rip, 8), rax);
    lea(rax, ptr[r14 + int32_t(i + 1)]);
    mov(field(o_.icount, 8), rax);
    jmp(exit_, T_NEAR);
    delete out;
  });
}

void Emitter::cond_to_ebp(unsigned cc) {
  if (hf_) {
    switch (cc) {
      case 0: seto(bpl); break;
      case 1: setno(bpl); break;
      case 2: setb(bpl); break;
      case 3: setnb(bpl); break;
      case 4: setz(bpl); break;
      case 5: setnz(bpl); break;
      case 6: setbe(bpl); break;
      case 7: setnbe(bpl); break;
      case 8: sets(bpl); break;
      case 9: setns(bpl); break;
      case 10: setp(bpl); break;
      case 11: setnp(bpl); break;
      case 12: setl(bpl); break;
      case 13: setnl(bpl); break;
      case 14: setle(bpl); break;
      default: setnle(bpl); break;
    }
    movzx(ebp, bpl);
    return;
  }
  flush_all();  // the call clobbers the cache's registers
  mov(rdi, rbx);
  mov(esi, cc);
  mov(rax, reinterpret_cast<uint64_t>(&JitAccess::cond));
  call(rax);
  movzx(ebp, al);
  hf_ = false;
}

// Cpu::set_lazy (and lz_carry) as the handlers leave them.
void Emitter::lazy(LazyOp op, unsigned w, const Reg64& res, const Reg64& dst, const Reg64& src, bool carry_zero) {
  mov(field(o_.lz_res, 8), res);
  mov(field(o_.lz_dst, 8), dst);
  mov(field(o_.lz_src, 8), src);
  mov(field(o_.lz_op, 1), uint8_t(op));
  mov(field(o_.lz_w, 1), uint8_t(w));
  if (carry_zero) mov(field(o_.lz_carry, 8), 0);
}

// ---------------------------------------------------------------- emitter: the block

// An instruction not translated inline: the interpreter's handler, called with the state its
// loop would have (sync), then the loop's own bookkeeping (++icount, stop_block_).
void Emitter::helper(const Op& op) {
  flush_all();  // the handler reads and writes gpr[]
  sync();
  mov(rdi, rbx);
  mov(rsi, reinterpret_cast<uint64_t>(&op));
  mov(rax, reinterpret_cast<uint64_t>(&JitAccess::call));
  call(rax);
  test(al, al);
  jz(exit_, T_NEAR);  // an exception is parked in the Cpu: return, dispatch rethrows it
  auto* out = new Label;
  cmp(field(o_.stop_block, 1), 0);
  jne(*out, T_NEAR);
  // The handler may have changed RIP, icount or the soft-TLB bank: rebase on what it left.
  mov(r13, field(o_.gpr + kRip * 8, 8));
  lea(r13, ptr[r13 - int32_t(next_)]);
  mov(r14, field(o_.icount, 8));
  lea(r14, ptr[r14 - int32_t(idx_)]);
  mov(r15, field(o_.stlb, 8));
  cold_.push_back([this, out] {
    L(*out);
    add(field(o_.icount, 8), 1);  // the loop's ++icount; RIP and cur_rip are the handler's
    jmp(exit_, T_NEAR);
    delete out;
  });
  hf_ = false;
}

void Emitter::block(const Block& b) {
  push(rbx);
  push(rbp);
  push(r12);
  push(r13);
  push(r14);
  push(r15);
  sub(rsp, 8);  // 16-byte aligned for the helper calls
  mov(rbx, rdi);
  mov(r13, field(o_.gpr + kRip * 8, 8));
  mov(r14, field(o_.icount, 8));
  mov(r15, field(o_.stlb, 8));
  hf_ = false;
  uint32_t off = 0;
  bool last_helper = false, last_rip = false;
  for (unsigned i = 0; i < b.ops.size(); ++i) {
    const Op& op = b.ops[i];
    idx_ = i;
    off_ = off;
    next_ = off + op.len;
    wrote_rip_ = false;
    if (native(op)) {
      ++native_ops;
      last_helper = false;
    } else {
      helper(op);
      ++helper_ops;
      last_helper = true;
    }
    last_rip = wrote_rip_;
    off = next_;
  }
  // The loop's state after the last instruction.
  writeback_all();
  const unsigned n = unsigned(b.ops.size());
  if (!last_helper) {
    if (!last_rip) {
      lea(rax, ptr[r13 + int32_t(off)]);
      mov(field(o_.gpr + kRip * 8, 8), rax);
    }
    lea(rax, ptr[r13 + int32_t(off_)]);
    mov(field(o_.cur_rip, 8), rax);
  }
  lea(rax, ptr[r14 + int32_t(n)]);
  mov(field(o_.icount, 8), rax);
  L(exit_);
  add(rsp, 8);
  pop(r15);
  pop(r14);
  pop(r13);
  pop(r12);
  pop(rbp);
  pop(rbx);
  ret();
  for (size_t k = 0; k < cold_.size(); ++k) cold_[k]();
}

// ---------------------------------------------------------------- Cpu side

void Cpu::jit_compile(Block* b) {
  if (!jit_) jit_ = std::make_unique<Jit>(*this);
  JitFn fn = jit_->compile(*b, counters.jit_native_ops, counters.jit_helper_ops);
  if (!fn) {  // arena full: drop every translation (no translated code is running now)
    for (auto& [key, blk] : blocks_) {
      blk->jit = nullptr;
      blk->runs = 0;
    }
    jit_->reset();
    ++counters.jit_resets;
    fn = jit_->compile(*b, counters.jit_native_ops, counters.jit_helper_ops);
  }
  if (!fn) {
    b->no_jit = true;
    return;
  }
  b->jit = fn;
  ++counters.blocks_translated;
}

void Cpu::rethrow_jit_exception() {
  jit_failed_ = false;
  std::exception_ptr e = std::move(jit_exc_);
  jit_exc_ = nullptr;
  std::rethrow_exception(e);
}

}  // namespace redoubt::sim::cpu
