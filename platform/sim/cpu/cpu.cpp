// The run loop and the decoded-block cache.
#include "platform/sim/cpu/cpu.hpp"

#include <Zydis/Zydis.h>

#include <cstdlib>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/intercepts.hpp"
#include "arch/x86/control_regs.hpp"
#include "arch/x86/descriptors.hpp"
#include "platform/sim/cpu/flags.hpp"
#include "platform/sim/cpu/jit.hpp"
#include "platform/sim/cpu/profile.hpp"

namespace redoubt::sim::cpu {

namespace {
unsigned default_jit_threshold() {
  const char* v = std::getenv("REDOUBT_SIM_JIT");  // docs/simulator-cpu.md "Translator"
  if (!v || !*v) return 8;
  return unsigned(std::strtoul(v, nullptr, 10));
}
}  // namespace

Cpu::Cpu(PhysicalMemory& mem)
    : jit_threshold(default_jit_threshold()), mem_(mem), banks_(new SoftTlbBank[kBanks]), jc_(new JcEntry[kJc]) {
  ram_ = mem.map(0, mem.size());
  ram_size_ = mem.size();
  code_pages_.assign((ram_size_ + 4095) / 4096, 0);
  auto* d = new ZydisDecoder[kNumDecodeModes];
  ZydisDecoderInit(&d[unsigned(Mode::long64)], ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecoderInit(&d[unsigned(Mode::compat32)], ZYDIS_MACHINE_MODE_LONG_COMPAT_32, ZYDIS_STACK_WIDTH_32);
  ZydisDecoderInit(&d[unsigned(Mode::legacy32)], ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
  decoders_ = d;
  // A 64-bit flat CS; the rest is reset state (CR0.PE = 0). Whoever runs the CPU sets a
  // consistent mode first (VMRUN, a test's SKINIT state); run() decides the mode from it.
  cs.attrib = 0x29B;  // code, execute/read, accessed, S, P, L
  cs.limit = 0xFFFFFFFF;
  select_context();
}

Cpu::~Cpu() { delete[] static_cast<ZydisDecoder*>(decoders_); }

void Cpu::set_rflags(uint64_t v) {
  rflags_sys = (v & ~kStatusFlags) | 2;
  set_status(v);
}

void Cpu::load_segment_cache(Segment& s, const Segment& v) {
  s = v;
  update_mode();
}

void Cpu::update_mode() {
  using namespace redoubt::x86;
  Mode m;
  if (!(cr0 & kCr0Pe) || (rflags_sys & kRflagsVm)) m = Mode::unsupported;  // real / virtual-8086 mode
  else if (efer & kEferLma) m = (cs.attrib & kSegL) ? Mode::long64 : (cs.attrib & kSegDb) ? Mode::compat32 : Mode::unsupported;
  else m = (cs.attrib & kSegDb) ? Mode::legacy32 : Mode::unsupported;  // CS.L is ignored outside long mode
  const Segment* segs[] = {&es, &cs, &ss, &ds, &fs, &gs};
  for (unsigned i = 0; i < 6; ++i) {
    // 64-bit mode: ES/CS/SS/DS bases are ignored, FS/GS bases are 64 bits (§4.5.3). Other
    // modes: every base applies and linear addresses are 32 bits.
    if (m == Mode::long64) seg_base[i] = i >= kFs ? segs[i]->base : 0;
    else seg_base[i] = uint32_t(segs[i]->base);
  }
  seg_base[6] = seg_base[7] = 0;
  if (m != mode_ || cs.base != mode_cs_base_) {
    mode_ = m;
    mode_cs_base_ = cs.base;
    flush_soft_tlb();  // also invalidates the jump cache and block chains (jc_gen_)
  }
}

void Cpu::raise(const GuestFault& f) {
  if (!jb_) throw f;
  pending_guest_ = f;
  pending_nested_ = false;
  __builtin_longjmp(jb_, 1);
}

void Cpu::raise(const NestedFault& f) {
  if (!jb_) throw f;
  pending_npf_ = f;
  pending_nested_ = true;
  __builtin_longjmp(jb_, 1);
}

void Cpu::fault(uint8_t vector, uint32_t error, bool has_error) { raise(GuestFault{vector, has_error, error, 0}); }

void Cpu::vmexit(uint64_t code, uint64_t info1, uint64_t info2) {
  nrip = gpr[kRip];
  gpr[kRip] = cur_rip;
  exitcode = code;
  exitinfo1 = info1;
  exitinfo2 = info2;
  exitintinfo = 0;
  stop = Stop::vmexit;
  stop_block_ = true;
}

void Cpu::vmexit_event(uint64_t code, uint64_t info1, uint64_t info2) {
  nrip = 0;
  exitcode = code;
  exitinfo1 = info1;
  exitinfo2 = info2;
  exitintinfo = delivering_ ? delivering_->encode() : 0;
  stop = Stop::vmexit;
  stop_block_ = true;
}

void Cpu::shutdown() {
  halted = false;
  if (guest) {  // APM vol. 2 §15.12: shutdown intercept; without it we still exit (see docs)
    const Event* d = delivering_;
    delivering_ = nullptr;
    vmexit_event(svm::kExitShutdown, 0, 0);
    (void)d;
    exitintinfo = 0;
  } else {
    stop = Stop::shutdown;
    stop_block_ = true;
  }
}

// ---------------------------------------------------------------- code cache

void Cpu::note_code_write(uint64_t hpa) {
  const uint64_t pg = hpa >> 12;
  if (pg >= code_pages_.size() || !code_pages_[pg]) return;
  drop_page_blocks(pg);
  stop_block_ = true;  // the running block may have been dropped
}

void Cpu::drop_page_blocks(uint64_t pg) {
  auto it = page_blocks_.find(pg);
  if (it == page_blocks_.end()) return;
  std::vector<uint64_t> pas = std::move(it->second);
  page_blocks_.erase(it);
  for (uint64_t pa : pas) {
    auto b = blocks_.find(pa);
    if (b == blocks_.end()) continue;
    Block* blk = b->second.get();
    for (uint64_t p : {uint64_t(blk->pa >> 12), uint64_t(blk->pa2 == ~0ull ? ~0ull : blk->pa2 >> 12)}) {
      if (p == ~0ull || p >= code_pages_.size()) continue;
      if (code_pages_[p]) --code_pages_[p];
      if (p != pg) {
        auto o = page_blocks_.find(p);
        if (o != page_blocks_.end()) std::erase(o->second, pa);
      }
    }
    graveyard_.push_back(std::move(b->second));
    blocks_.erase(b);
    ++counters.blocks_invalidated;
  }
  regen_all_banks();  // jump-cache entries and chains of every context may point at dropped blocks
}

bool Cpu::block_valid(Block* b) {
  const uint64_t first = b->pa2 == ~0ull ? b->bytes.size() : 4096 - (b->pa & 0xFFF);
  const uint8_t* p = host_ptr(b->pa, first);
  if (!p || std::memcmp(p, b->bytes.data(), first) != 0) return false;
  if (b->pa2 != ~0ull) {
    const uint8_t* q = host_ptr(b->pa2, b->bytes.size() - first);
    if (!q || std::memcmp(q, b->bytes.data() + first, b->bytes.size() - first) != 0) return false;
  }
  return true;
}

uint64_t Cpu::fetch_linear_32() {
  if (mode_ == Mode::unsupported) {
    throw CpuError(!(cr0 & 1) ? "instruction fetch in real mode (CR0.PE = 0): not modelled"
                   : (rflags_sys & (1ull << 17)) ? "instruction fetch in virtual-8086 mode: not modelled"
                                                 : "instruction fetch in 16-bit code (CS.D = 0, CS.L = 0): not modelled");
  }
  gpr[kRip] = uint32_t(gpr[kRip]);  // EIP wraps at 4 GiB
  return uint32_t(cs.base + gpr[kRip]);
}

Block* Cpu::find_block() {
  if (!graveyard_.empty()) graveyard_.clear();
  uint64_t va = gpr[kRip];
  if (mode_ != Mode::long64) [[unlikely]] va = fetch_linear_32();
  JcEntry& j = jc_[(va ^ (va >> 12)) & (kJc - 1)];
  if (j.va == va && j.gen == jc_gen_) {
    if (j.b->epoch == code_epoch_) return j.b;
    // Code may have been written from outside (code_modified_externally): the entry's translation
    // still holds (its generation does), so compare the block's bytes with memory once.
    if (j.b->pa2 == ~0ull && block_valid(j.b)) {
      j.b->epoch = code_epoch_;
      return j.b;
    }
  }
  const uint64_t pa = translate(va, kFetch);
  const uint64_t key = pa | (uint64_t(mode_) << kModeKeyShift);
  Block* b = nullptr;
  auto it = blocks_.find(key);
  if (it != blocks_.end()) {
    b = it->second.get();
    bool ok = b->epoch == code_epoch_ || block_valid(b);
    if (ok && b->pa2 != ~0ull) ok = translate((va | 0xFFF) + 1, kFetch) == b->pa2;
    if (ok) {
      b->epoch = code_epoch_;
    } else {
      drop_page_blocks(pa >> 12);
      b = nullptr;
    }
  }
  if (!b) b = decode_block(va, pa, key);
  j = JcEntry{va, jc_gen_, b};
  return b;
}

// ---------------------------------------------------------------- events

void Cpu::check_interrupts() {
  if (!intr_line()) return;
  if (in_shadow()) return;
  if (!gif) return;  // GIF = 0 holds every interrupt pending (APM vol. 2 §15.17.1)
  if (guest && (ctl.icpt_misc1 & svm::kInterceptIntr)) {
    // Physical INTR while the guest runs (APM vol. 2 §15.21.4): with V_INTR_MASKING the
    // host's IF (1: the host runs guests with interrupts enabled) decides, else the guest's.
    if (ctl.v_intr_masking || (rflags_sys & kIF)) {
      ack_intr();
      halted = false;
      vmexit_event(svm::kExitIntr, 0, 0);
    }
    return;
  }
  if (!(rflags_sys & kIF)) return;
  ack_intr();
  halted = false;
  take_event(Event{timer_vector, 0, false, 0});
}

namespace {
bool contributory(uint8_t v) { return v == 0 || (v >= 10 && v <= 13); }
}  // namespace

void Cpu::take_event(const Event& ev) {
  // Host code's first exception (INT3 included: #BP) is what a later triple fault reports.
  if (!guest && !first_host_fault.valid && (ev.type == 3 || (ev.type == 4 && ev.vector == 3)))
    first_host_fault = HostFault{true, ev.vector, ev.has_error, ev.error, cur_rip, ev.vector == 14 ? cr2 : 0};
  const NoJump nj(*this);  // the double-fault rules below catch what delivery raises
  Event cur = ev;
  for (;;) {
    delivering_ = &cur;
    try {
      deliver(cur);
      delivering_ = nullptr;
      ++counters.events_delivered;
      return;
    } catch (const GuestFault& f) {
      // An intercepted exception raised while delivering an event exits as itself, with
      // EXITINTINFO = the event (APM vol. 2 §15.7.2), before any double-fault combining: how a
      // shadow-paging hypervisor fills a missing IDT or stack page and re-injects the event.
      if (exc_intercepted(f.vector)) {
        vmexit_event(svm::kExitExcp0 + f.vector, f.has_error ? f.error : 0, f.vector == 14 ? f.address : 0);
        delivering_ = nullptr;
        return;
      }
      // Double-fault rules (APM vol. 2 §8.2.9, Table 8-7).
      const bool first_exc = cur.type == 3;
      if (first_exc && cur.vector == 8) {
        shutdown();
        delivering_ = nullptr;
        return;
      }
      const bool df = first_exc && ((contributory(cur.vector) && contributory(f.vector)) ||
                                    (cur.vector == 14 && (contributory(f.vector) || f.vector == 14)));
      Event next = df ? Event{8, 3, true, 0} : Event{f.vector, 3, f.has_error, f.error};
      if (exc_intercepted(next.vector)) {
        vmexit_event(svm::kExitExcp0 + next.vector, next.has_error ? next.error : 0,
                     next.vector == 14 ? f.address : 0);
        delivering_ = nullptr;
        return;
      }
      if (next.vector == 14) cr2 = f.address;
      delivering_ = nullptr;
      cur = next;
    } catch (const NestedFault& f) {
      vmexit_event(svm::kExitNpf, f.info1, f.gpa);
      delivering_ = nullptr;
      return;
    }
  }
}

void Cpu::handle_fault(const GuestFault& f) {
  // A faulting instruction retires nothing, but time passes: one tick of icount (the budget, the
  // TSC and the timer deadline all count it). Otherwise an exception handler that faults itself
  // delivers exceptions forever at a constant icount, and neither the instruction budget nor the
  // host's timer ever stops it (issue 16, a fuzz_x86_decode finding; a real CPU's timer is not
  // made of retired instructions).
  ++icount;
  if (!guest && !first_host_fault.valid)
    first_host_fault = HostFault{true, f.vector, f.has_error, f.error, cur_rip, f.vector == 14 ? f.address : 0};
  if (exc_intercepted(f.vector)) {
    vmexit_event(svm::kExitExcp0 + f.vector, f.has_error ? f.error : 0, f.vector == 14 ? f.address : 0);
    return;
  }
  if (f.vector == 14) cr2 = f.address;
  take_event(Event{f.vector, 3, f.has_error, f.error});
}

void Cpu::inject(const Event& ev) {
  // CR2 for an injected #PF is whatever the VMCB holds (the hypervisor sets it).
  update_mode();  // called before run(), right after the state was loaded from outside
  take_event(ev);
}

// ---------------------------------------------------------------- run loop

Stop Cpu::run(uint64_t max_instructions) {
  const profile::Running sampled(this);  // REDOUBT_SIM_PROFILE (profile.cpp); one store per call
  stop = Stop::none;
  budget_end_ = max_instructions == ~0ull ? ~0ull : icount + max_instructions;
  void** const outer = jb_;  // a nested run() (none today) gets its own buffer
  try {
    update_mode();  // the state may have been set from outside (VMRUN, SKINIT)
    const Stop s = run_loop();
    jb_ = outer;
    return s;
  } catch (...) {
    jb_ = outer;
    throw;
  }
}

// The instruction loop: blocks, chained; returns when the CPU stops. A separate frame from
// run_loop's (which holds the __builtin_setjmp) so that its state stays in registers.
Stop Cpu::dispatch() {
  for (;;) {
    if (icount >= budget_end_ || icount >= timer_deadline || halted) [[unlikely]] {
      check_interrupts();
      if (stop != Stop::none) return stop;
      if (halted) {
        if (timer_armed && icount < timer_deadline) {  // skip idle time to the deadline
          idle_ticks += timer_deadline - icount;
          icount = timer_deadline;
          continue;
        }
        stop = Stop::halted;  // nothing can wake this CPU
        return stop;
      }
      if (icount >= budget_end_) {
        stop = Stop::budget;
        return stop;
      }
    }
    cur_rip = gpr[kRip];  // a fetch fault reports the target RIP
    Block* b = find_block();
    for (;;) {
      if (b->jit && !in_shadow() && !profile::g_counting) [[likely]] {
        stop_block_ = false;
        b->jit(this);  // translated code: the same state changes as the loop below (jit.cpp)
        if (jit_failed_) [[unlikely]] rethrow_jit_exception();
      } else {
        if (!b->jit && !b->no_jit && jit_threshold && ++b->runs >= jit_threshold) {
          if (mode_ == Mode::long64) jit_compile(b);
          else b->no_jit = true;
          if (b->jit) continue;
        }
        const Op* op = b->ops.data();
        const Op* end = op + b->ops.size();
        if (in_shadow()) end = op + 1;  // one instruction, then look at interrupts again
        stop_block_ = false;
        const Op* const first = op;
        const uint64_t block_va = gpr[kRip];
        do {
          cur_rip = gpr[kRip];
          gpr[kRip] += op->len;
          op->fn(*this, *op);
          ++icount;
          ++op;
        } while (op != end && !stop_block_);
        if (profile::g_counting) [[unlikely]]
          profile::count_block(*this, block_va, uint64_t(op - first));
      }
      if (stop != Stop::none) return stop;
      // Leave the chain for anything the outer loop must look at (the block may even be gone).
      if (stop_block_ || icount >= budget_end_ || icount >= timer_deadline || halted || in_shadow()) break;
      const uint64_t va = gpr[kRip];
      const int k = va == b->succ_va[0] ? 0 : va == b->succ_va[1] ? 1 : -1;
      if (k >= 0 && b->succ_gen[k] == jc_gen_ && b->succ[k]->epoch == code_epoch_) {
        b = b->succ[k];
        continue;
      }
      cur_rip = va;
      Block* nb = find_block();
      const unsigned slot = b->succ_next;
      b->succ_next ^= 1;
      b->succ_va[slot] = gpr[kRip];  // as find_block left it (EIP wrapped outside 64-bit mode)
      b->succ_gen[slot] = jc_gen_;
      b->succ[slot] = nb;
      b = nb;
    }
  }
}

// Owns nothing with a destructor: raise() lands here with __builtin_longjmp.
Stop Cpu::run_loop() {
  void* jb[5];  // __builtin_setjmp's buffer: frame pointer, resume address, stack pointer
  for (;;) {
    if (__builtin_setjmp(jb)) {  // a fault raised by an instruction (or its fetch) in this loop
      jb_ = nullptr;
      gpr[kRip] = cur_rip;
      implicit_sup = false;
      if (pending_nested_) vmexit_event(svm::kExitNpf, pending_npf_.info1, pending_npf_.gpa);
      else handle_fault(pending_guest_);
      if (stop != Stop::none) return stop;
      continue;
    }
    jb_ = jb;
    try {
      return dispatch();
    } catch (const GuestFault& f) {  // raised inside a NoJump scope
      jb_ = nullptr;
      gpr[kRip] = cur_rip;
      handle_fault(f);
    } catch (const NestedFault& f) {
      jb_ = nullptr;
      gpr[kRip] = cur_rip;
      vmexit_event(svm::kExitNpf, f.info1, f.gpa);
    }
    implicit_sup = false;
    if (stop != Stop::none) return stop;
  }
}

}  // namespace redoubt::sim::cpu
