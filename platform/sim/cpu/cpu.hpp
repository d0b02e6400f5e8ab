// The simulated x86-64 CPU: an interpreter of real machine code in 64-bit,
// compatibility and 32-bit protected mode (decoded once with Zydis, cached per
// physical page and mode), with the
// guest's own 4-level paging, exceptions through the guest IDT and the SVM
// guest mode (intercepts, nested paging, ASID-tagged TLB) that
// platform/sim/svm drives. See docs/simulator-cpu.md for the supported subset.
#pragma once
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "platform/sim/cpu/counters.hpp"
#include "platform/sim/cpu/op.hpp"
#include "platform/sim/cpu/sse_state.hpp"
#include "platform/sim/cpu/tlb.hpp"
#include "platform/sim/cpu_state.hpp"
#include "platform/sim/memory.hpp"

namespace redoubt::sim::cpu {

// A fault raised inside the interpreter (Cpu::raise): inside run() it jumps straight back to the
// run loop, outside run() (or in a Cpu::NoJump scope) it is thrown. It never escapes run().
struct GuestFault {
  uint8_t vector;
  bool has_error;
  uint32_t error;
  uint64_t address;  // #PF: the faulting linear address (CR2 if delivered)
};
struct NestedFault {
  uint64_t info1;  // APM vol. 2 §15.25.6: #PF-style error code | bit 32 final | bit 33 walk
  uint64_t gpa;
};
// With EPT (Intel model) NestedFault::info1 is the EPT-violation exit qualification (Intel SDM
// vol. 3C §28.2.1 Table 28-7) with kEptViolation set, or kEptMisconfig (§29.3.3.1).
inline constexpr uint64_t kEptViolation = 1ull << 62, kEptMisconfig = 1ull << 63;

// Thrown out of run() for conditions the simulation cannot continue from.
class CpuError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// I/O ports as seen by IN/OUT that are not intercepted.
class PortIo {
 public:
  virtual uint32_t in(uint16_t port, unsigned size) = 0;
  virtual void out(uint16_t port, unsigned size, uint32_t value) = 0;

 protected:
  ~PortIo() = default;
};

// SVM guest-mode controls, loaded from the VMCB by VMRUN (platform/sim/svm).
struct GuestControls {
  uint32_t icpt_cr = 0, icpt_dr = 0, icpt_exc = 0, icpt_misc1 = 0, icpt_misc2 = 0;
  const uint8_t* iopm = nullptr;   // 12 KiB in host memory
  const uint8_t* msrpm = nullptr;  // 8 KiB in host memory
  uint64_t tsc_offset = 0;
  bool np = false;
  uint64_t ncr3 = 0;
  bool v_intr_masking = false;
  uint8_t v_tpr = 0;  // VMCB V_TPR[3:0]: the guest's CR8 while v_intr_masking (APM vol. 2 §15.21.4)
  // Intel: EPT instead of AMD nested paging (np is set too: the guest-physical step is on).
  bool ept = false;
  uint64_t eptp = 0;  // Intel SDM vol. 3C §25.6.11
};

// EVENTINJ/EXITINTINFO-style event (APM vol. 2 §15.20).
struct Event {
  uint8_t vector = 0;
  uint8_t type = 3;  // 0 INTR, 2 NMI, 3 exception, 4 software interrupt
  bool has_error = false;
  uint32_t error = 0;
  uint64_t encode() const {
    return vector | (uint64_t(type) << 8) | (has_error ? 1ull << 11 : 0) | (1ull << 31) |
           (uint64_t(error) << 32);
  }
};

// poweroff: a device asked the machine to stop (the debug-exit port), see request_stop().
enum class Stop : uint8_t { none, vmexit, halted, budget, shutdown, poweroff };

class Cpu;
class Jit;

// ---- full-system hooks (platform/sim/full_system) ----
// The SVM instructions executed by host code (the measured hypervisor's own
// VMRUN/VMLOAD/VMSAVE), after the instruction's own #UD/#GP checks. The native
// path (platform/fake) drives VMRUN from C++ instead and leaves this unset.
class HostSvm {
 public:
  virtual void vmrun(Cpu& c) = 0;   // RAX = VMCB physical address (APM vol. 2 §15.5)
  virtual void vmload(Cpu& c) = 0;  // §15.5.2: FS, GS, TR, LDTR, KernelGsBase, STAR..SFMASK, SYSENTER_*
  virtual void vmsave(Cpu& c) = 0;

 protected:
  ~HostSvm() = default;
};

// The CPU vendor the machine models: AMD (SVM, SKINIT; the default) or Intel
// (VMX: CPUID "GenuineIntel", CPUID.1:ECX.VMX, no SVM). docs/intel.md.
enum class Vendor : uint8_t { amd, intel };

// The VMX instructions (Intel SDM vol. 3C ch. 31), as decoded.
enum class VmxInsn : uint8_t { vmxon, vmxoff, vmclear, vmptrld, vmptrst, vmread, vmwrite, vmlaunch, vmresume,
                               vmcall, invept, invvpid };
struct VmxOperands {
  VmxInsn insn;
  bool mem = false;      // the r/m operand is memory (at `addr`, linear)
  uint64_t addr = 0;
  uint8_t rm_reg = 0;    // the r/m operand when it is a register (index into gpr[])
  uint8_t reg = 0;       // the other register operand (VMREAD source, VMWRITE/INVEPT destination)
  uint8_t len = 0;       // instruction length
};

// The Intel VMX model (platform/sim/vmx) behind the VMX instructions, the VMX
// MSRs and the CR0/CR4 rules of VMX operation. Only consulted when vendor == intel.
class HostVmx {
 public:
  // After the decoder: #UD/#GP via c.ud()/c.gp(), VMsucceed/VMfail through RFLAGS.
  virtual void instruction(Cpu& c, const VmxOperands& o) = 0;
  virtual bool rdmsr(Cpu& c, uint32_t msr, uint64_t& v) = 0;    // false: not a VMX MSR
  virtual bool wrmsr(Cpu& c, uint32_t msr, uint64_t v) = 0;     // false: not a VMX MSR (may #GP)
  // MOV to CR0/CR4 in VMX operation must keep the fixed bits (§24.8): false -> #GP(0).
  virtual bool cr_write_allowed(const Cpu& c, unsigned cr, uint64_t v) = 0;
  // MOV to/from CRn in a VMX guest (§26.1.3, §26.3): true if it caused a VM exit; otherwise `value`
  // is what the read returns (read shadows) or what the write stores (host-owned bits kept).
  virtual bool guest_mov_cr(Cpu& c, unsigned cr, bool write, unsigned gpr, uint64_t& value) = 0;

 protected:
  ~HostVmx() = default;
};

// Physical addresses that are not RAM: device registers (TPM TIS, local APIC).
// Accesses of 1, 2, 4 or 8 bytes; return false if nothing claims the address.
class Mmio {
 public:
  virtual bool mmio_read(uint64_t pa, unsigned size, uint64_t& value) = 0;
  virtual bool mmio_write(uint64_t pa, unsigned size, uint64_t value) = 0;

 protected:
  ~Mmio() = default;
};

// The first exception host code (outside any guest) took: what a triple fault
// started from, for reports ("#UD at RIP ...").
struct HostFault {
  bool valid = false;
  uint8_t vector = 0;
  bool has_error = false;
  uint32_t error = 0;
  uint64_t rip = 0;
  uint64_t address = 0;  // #PF: the faulting linear address
};

// The execution mode, decided by CR0.PE, EFER.LMA, CS.L and CS.D (APM vol. 2 §1.2, Table 1-1).
// Each mode has its own decoder and its own decoded blocks. Real mode, virtual-8086 mode
// and 16-bit code are `unsupported`: fetching an instruction there throws CpuError.
enum class Mode : uint8_t { long64 = 0, compat32 = 1, legacy32 = 2, unsupported = 3 };
inline constexpr unsigned kNumDecodeModes = 3;
enum Access : uint8_t { kRead = 0, kWrite = 1, kFetch = 2 };

// Lazy status flags: the last flag-setting operation and its operands.
enum LazyOp : uint8_t { kLzNone, kLzLogic, kLzAdd, kLzAdc, kLzSub, kLzSbb, kLzInc, kLzDec };

inline constexpr uint64_t kCF = 1, kPF = 4, kAF = 16, kZF = 64, kSF = 128, kTF = 256, kIF = 512, kDF = 1024,
                          kOF = 2048;
inline constexpr uint64_t kStatusFlags = kCF | kPF | kAF | kZF | kSF | kOF;

class Cpu {
 public:
  explicit Cpu(PhysicalMemory& mem);
  ~Cpu();
  Cpu(const Cpu&) = delete;
  Cpu& operator=(const Cpu&) = delete;

  // ---- architectural state ----
  uint64_t gpr[kNumGpr] = {};  // gpr[kRip] is RIP; gpr[kZero] is always 0
  uint64_t cur_rip = 0;        // RIP of the instruction executing now
  // Effective-address segment bases by segment number (ES CS SS DS FS GS, then two zeros):
  // in 64-bit mode ES/CS/SS/DS read as 0 (APM vol. 2 §4.5.3); kept by update_mode().
  uint64_t seg_base[8] = {};
  Segment es, cs, ss, ds, fs, gs, ldtr, tr;
  Segment gdtr, idtr;          // base + limit only
  uint64_t cr0 = 0x60000010, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0, efer = 0;
  uint64_t dr[4] = {}, dr6 = 0xFFFF0FF0, dr7 = 0x400;
  uint8_t cpl = 0;
  uint64_t star = 0, lstar = 0, cstar = 0, sfmask = 0, kernel_gs_base = 0;
  uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0, pat = 0x0007040600070406ull, tsc_aux = 0;
  uint64_t vm_hsave_pa = 0;
  uint64_t rflags_sys = 2;     // RFLAGS without the six status flags
  uint64_t shadow_end = ~0ull;  // STI / MOV SS shadow: no interrupt while icount == shadow_end
  bool in_shadow() const { return shadow_end == icount; }
  bool implicit_sup = false;    // current accesses are implicit supervisor (IDT, GDT, TSS)
  bool halted = false;

  uint64_t& rip() { return gpr[kRip]; }
  uint64_t rflags() const { return rflags_sys | status_flags(); }
  void set_rflags(uint64_t v);
  void load_segment_cache(Segment& s, const Segment& v);  // keeps seg_base[] and the mode in sync
  void set_fs_base(uint64_t b) { fs.base = b; update_mode(); }
  void set_gs_base(uint64_t b) { gs.base = b; update_mode(); }
  // Recomputes the mode and seg_base[] from CR0, EFER, RFLAGS.VM and the segment caches; call
  // after changing any of them (run() also does on entry). A mode or CS change invalidates the
  // jump cache and block chains so no block decoded for one mode runs in another.
  void update_mode();
  Mode mode() const { return mode_; }

  // ---- SVM guest mode (driven by platform/sim/svm) ----
  bool guest = false;
  uint32_t asid = 0;           // current ASID (0 = host)
  GuestControls ctl;
  uint64_t exitcode = 0, exitinfo1 = 0, exitinfo2 = 0, exitintinfo = 0, nrip = 0;
  // Requests #VMEXIT(code) after the current instruction (or now, for faults).
  void vmexit(uint64_t code, uint64_t info1, uint64_t info2);          // instruction intercept: nRIP = next
  void vmexit_event(uint64_t code, uint64_t info1, uint64_t info2);    // fault/interrupt: RIP stays, nRIP = 0
  void shutdown();                                                     // triple fault
  void take_event(const Event& ev);  // deliver through the IDT; escalates #DF / triple fault
  void set_cpl(uint8_t c);
  bool exc_intercepted(uint8_t v) const { return guest && (ctl.icpt_exc >> v & 1); }
  bool misc1(uint32_t bit) const { return guest && (ctl.icpt_misc1 & bit); }
  bool misc2(uint32_t bit) const { return guest && (ctl.icpt_misc2 & bit); }
  // Delivers an event through the IDT as on VMRUN with EVENTINJ (no intercept check
  // on the event itself; faults during delivery are intercepted normally).
  void inject(const Event& ev);

  // ---- time and the host timer ----
  uint64_t icount = 0;         // the TSC: +1 per retired instruction, + idle ticks in HLT
  uint64_t idle_ticks = 0;
  uint64_t timer_deadline = ~0ull;
  uint8_t timer_vector = 0;
  bool timer_armed = false;
  bool intr_line() const { return timer_armed && icount >= timer_deadline; }
  void ack_intr() { timer_armed = false; timer_deadline = ~0ull; }
  uint64_t guest_tsc() const { return icount + (guest ? ctl.tsc_offset : 0); }

  PortIo* ports = nullptr;     // devices behind IN/OUT (nullptr: reads all-ones, writes dropped)
  Mmio* mmio = nullptr;        // devices behind physical addresses outside RAM (nullptr: reads all-ones)
  Vendor vendor = Vendor::amd; // AMD (SVM) or Intel (VMX, with host_vmx)
  HostVmx* host_vmx = nullptr; // Intel: the VMX model (nullptr: VMX instructions #UD)
  bool smx = false;            // Safer Mode Extensions (platform/sim/txt): CR4.SMXE (bit 14) writable
  HostSvm* host_svm = nullptr; // full system: host-mode VMRUN/VMLOAD/VMSAVE (nullptr: #UD as before)
  bool gif = true;             // global interrupt flag (APM vol. 2 §15.17): STGI/CLGI, VMRUN sets, #VMEXIT clears
  uint64_t walk_va = 0;        // the linear address of the last guest page walk (EPT exit: guest-linear address)
  HostFault first_host_fault;  // set once, by the first exception outside guest mode
  // A device asks the CPU to stop after the current instruction (power off).
  void request_stop(Stop why) { stop = why; stop_block_ = true; }

  // ---- execution ----
  // Blocks of 64-bit code are translated to host code (jit.cpp) after running this many times
  // through the interpreter; 0 = never (interpret only). Default 8; REDOUBT_SIM_JIT=N sets it
  // (REDOUBT_SIM_JIT=0: interpreter only, =1: translate at first execution).
  unsigned jit_threshold;
  // Iterations (a bulk page counts as one) a REP string instruction runs before it yields to the
  // run loop and is executed again (interruptible REP, APM vol. 3 "REP"). Any value >= 1 is an
  // architecturally valid CPU; the x86 decoder fuzzer lowers it so one input cannot spend a second
  // in a million slow-path iterations.
  static constexpr uint64_t kDefaultRepChunk = 16384;
  uint64_t rep_chunk = kDefaultRepChunk;
  // Runs until a #VMEXIT (guest mode), HLT with nothing to wake it, shutdown,
  // or max_instructions retired.
  Stop run(uint64_t max_instructions = ~0ull);
  Stop stop = Stop::none;

  // ---- memory ----
  template <class T> T rd(uint64_t va) {
    const SoftTlb& e = stlb_[(va >> 12) & (kStlb - 1)];
    if ((va & ~0xFFFull) == e.tag_r && (va & 0xFFF) <= 4096 - sizeof(T)) {
      T v;
      std::memcpy(&v, e.host + (va & 0xFFF), sizeof(T));
      return v;
    }
    return T(rd_slow(va, sizeof(T)));
  }
  template <class T> void wr(uint64_t va, T v) {
    const SoftTlb& e = stlb_[(va >> 12) & (kStlb - 1)];
    if ((va & ~0xFFFull) == e.tag_w && (va & 0xFFF) <= 4096 - sizeof(T)) {
      std::memcpy(e.host + (va & 0xFFF), &v, sizeof(T));
      return;
    }
    wr_slow(va, sizeof(T), uint64_t(v));
  }
  uint64_t rd_slow(uint64_t va, unsigned n);
  void wr_slow(uint64_t va, unsigned n, uint64_t v);
  // Full translation (TLB, then walk); throws GuestFault / NestedFault.
  uint64_t translate(uint64_t va, Access acc, bool implicit_supervisor = false);
  // Guest-physical -> host-physical through nCR3 (identity without NP).
  uint64_t nested_translate(uint64_t gpa, Access acc, bool walk);
  uint8_t* host_ptr(uint64_t hpa, uint64_t n) { return hpa <= ram_size_ && n <= ram_size_ - hpa ? ram_ + hpa : nullptr; }

  // ---- TLBs ----
  // The architectural, ASID-tagged TLB. Flush it through the tlb_flush_* methods below, which
  // also drop the soft-TLB entries derived from what they remove.
  Tlb tlb;
  // The per-page fast path in front of the TLB has one bank per context (ASID, user/supervisor):
  // a world switch or a CPL change selects a bank instead of flushing, as the ASID-tagged TLB
  // keeps a guest's translations across VMRUN (APM vol. 2 §15.16). Call select_context() after
  // changing `asid` or `cpl` directly.
  void select_context();
  void flush_soft_tlb();              // every bank (and the jump cache): always safe
  void flush_soft_tlb_asid(uint32_t a);  // the banks of ASID a
  void tlb_flush_all() { tlb.flush_all(); flush_soft_tlb(); }
  void tlb_flush_asid(uint32_t a, bool keep_global) { tlb.flush_asid(a, keep_global); flush_soft_tlb_asid(a); }
  void tlb_flush_va(uint32_t a, uint64_t va) { tlb.flush_va(a, va); flush_soft_tlb_asid(a); }
  void flush_tlb_nonglobal();         // MOV CR3
  void flush_tlb_all_current();       // MOV CR0/CR4 paging bits
  void invlpg(uint64_t va);
  // Host code wrote memory behind the CPU's back (loader, DMA, the native C++ hypervisor):
  // revalidate decoded code (each block is compared with memory once before it runs again: the
  // jump cache and the chains check the epoch, so their entries need not be dropped).
  void code_modified_externally() { ++code_epoch_; }

  SseState sse;  // XMM0-15, MXCSR, FXSAVE's x87 part (exec_sse.cpp); kept out of the hot fields above

  Counters counters;
  AsidCounters& asid_counters() { return counters.per_asid[asid]; }

  // ---- lazy flags ----
  LazyOp lz_op = kLzNone;
  uint8_t lz_w = 8;
  uint64_t lz_res = 0, lz_dst = 0, lz_src = 0;
  uint64_t lz_carry = 0;       // ADC/SBB carry in; INC/DEC preserved CF
  uint64_t flags_mat = 0;      // the status flags when lz_op == kLzNone
  void set_lazy(LazyOp op, unsigned w, uint64_t res, uint64_t dst, uint64_t src) {
    lz_op = op; lz_w = uint8_t(w); lz_res = res; lz_dst = dst; lz_src = src;
  }
  uint64_t status_flags() const;
  void materialize() { flags_mat = status_flags(); lz_op = kLzNone; }
  void set_status(uint64_t f) { flags_mat = f & kStatusFlags; lz_op = kLzNone; }
  bool cf() const;
  bool zf() const;
  bool cond(unsigned cc) const;

  // ---- exceptions ----
  // A guest exception or a nested-paging fault. Inside run() it returns to the run loop with one
  // __builtin_longjmp (Bochs' exception() and QEMU's cpu_loop_exit do the same): no C++ unwinding,
  // no allocation. Outside run(), or inside a NoJump scope, it is thrown as before. Frames between
  // the run loop and a raise must own nothing with a destructor and catch nothing: code that does
  // (decoding, event delivery, catch-and-restore handlers, the SVM/VMX models) opens a NoJump.
  [[noreturn]] void raise(const GuestFault& f);
  [[noreturn]] void raise(const NestedFault& f);
  class NoJump {
   public:
    explicit NoJump(Cpu& c) : c_(c), saved_(c.jb_) { c.jb_ = nullptr; }
    ~NoJump() { c_.jb_ = saved_; }
    NoJump(const NoJump&) = delete;
    NoJump& operator=(const NoJump&) = delete;

   private:
    Cpu& c_;
    void** saved_;
  };
  [[noreturn]] void fault(uint8_t vector, uint32_t error = 0, bool has_error = true);
  [[noreturn]] void ud() { fault(6, 0, false); }
  [[noreturn]] void gp(uint32_t e = 0) { fault(13, e, true); }
  Segment read_descriptor(uint16_t sel);  // GDT only (TI=1 -> #GP)
  void set_descriptor_accessed(uint16_t sel);  // sets the A bit in the GDT entry if clear
  void end_block() { stop_block_ = true; }

  // Code-page writes land here (slow path): drops cached decodes of that page.
  void note_code_write(uint64_t hpa);

 private:
  struct SoftTlb {
    uint64_t tag_r = 1, tag_w = 1;
    uint8_t* host = nullptr;
  };
  static constexpr unsigned kStlb = 256;
  static constexpr unsigned kBanks = 16;
  struct SoftTlbBank {
    uint32_t asid = ~0u;
    bool user = false;
    uint64_t gen = 0;       // the jump cache / block chain generation of this context
    uint64_t last_use = 0;
    SoftTlb e[kStlb];
  };
  void clear_bank(SoftTlbBank& b);
  void regen_all_banks();   // invalidates every context's jump-cache entries and chains
  struct JcEntry {
    uint64_t va = 1;
    uint64_t gen = 0;
    Block* b = nullptr;
  };
  static constexpr unsigned kJc = 4096;

  Block* find_block();
  uint64_t fetch_linear_32();   // non-64-bit modes: wraps EIP, returns CS.base + EIP (32-bit)
  Block* decode_block(uint64_t va, uint64_t pa, uint64_t key);
  bool block_valid(Block* b);
  void drop_page_blocks(uint64_t page);
  void deliver(const Event& ev);
  void handle_fault(const GuestFault& f);
  void check_interrupts();
  void fill_soft_tlb(uint64_t va, uint64_t hpa, bool writable);
  uint64_t walk(uint64_t va, Access acc, bool user, TlbEntry& out);
  struct NestedResult { unsigned shift = 30; bool writable = true, nx = false, dirty = true; };
  uint64_t nested_walk(uint64_t gpa, Access acc, bool walk, NestedResult& r);
  uint64_t ept_walk(uint64_t gpa, Access acc, bool walk, NestedResult& r);  // ept.cpp
  [[noreturn]] void nested_ad_fault(uint64_t gpa, bool nested_nx);          // guest A/D update not writable

  Stop run_loop();
  [[gnu::noinline]] Stop dispatch();
  // The translator (jit.cpp). A C++ exception from a handler or a slow memory path cannot unwind
  // through translated code (it has no unwind tables): the helper it calls catches it, leaves it
  // here and returns; the translated block returns and dispatch() rethrows it.
  void jit_compile(Block* b);
  [[noreturn, gnu::noinline]] void rethrow_jit_exception();
  std::unique_ptr<Jit> jit_;
  std::exception_ptr jit_exc_;
  bool jit_failed_ = false;             // jit_exc_ holds an exception: the block returned early
  void** jb_ = nullptr;                 // the run loop's __builtin_setjmp buffer (nullptr: throw)
  bool pending_nested_ = false;         // what raise() left for the run loop
  GuestFault pending_guest_{};
  NestedFault pending_npf_{};

  PhysicalMemory& mem_;
  uint8_t* ram_;
  uint64_t ram_size_;
  SoftTlb* stlb_ = nullptr;        // the current bank's entries
  std::unique_ptr<SoftTlbBank[]> banks_;
  SoftTlbBank* bank_ = nullptr;     // the current bank
  uint64_t bank_clock_ = 0;
  uint64_t gen_counter_ = 1;        // generations are unique over all banks
  std::unique_ptr<JcEntry[]> jc_;
  uint64_t jc_gen_ = 1;             // == bank_->gen
  uint64_t code_epoch_ = 1;
  // Decoded blocks by key = host-physical address | mode << kModeKeyShift.
  static constexpr unsigned kModeKeyShift = 56;
  std::unordered_map<uint64_t, std::unique_ptr<Block>> blocks_;
  std::unordered_map<uint64_t, std::vector<uint64_t>> page_blocks_;  // page -> block keys
  std::vector<uint32_t> code_pages_;                               // blocks per page
  std::vector<std::unique_ptr<Block>> graveyard_;                  // freed at the next block lookup
  bool stop_block_ = false;
  const Event* delivering_ = nullptr;   // event being delivered (for EXITINTINFO / #DF)
  uint64_t budget_end_ = ~0ull;
  uint64_t run_start_icount_ = 0;
  Mode mode_ = Mode::long64;
  uint64_t mode_cs_base_ = 0;           // CS base the jump cache was filled under
  void* decoders_;                      // ZydisDecoder[kNumDecodeModes], indexed by Mode

  friend struct DecodeAccess;
  friend class Jit;
  friend struct JitAccess;
};

// Width helpers for the handlers.
template <int W> struct WT;
template <> struct WT<1> { using U = uint8_t; using S = int8_t; };
template <> struct WT<2> { using U = uint16_t; using S = int16_t; };
template <> struct WT<4> { using U = uint32_t; using S = int32_t; };
template <> struct WT<8> { using U = uint64_t; using S = int64_t; };

inline uint64_t trunc(uint64_t v, unsigned w) { return w == 8 ? v : v & ((1ull << (w * 8)) - 1); }
inline int64_t sext(uint64_t v, unsigned w) {
  switch (w) {
    case 1: return int8_t(v);
    case 2: return int16_t(v);
    case 4: return int32_t(v);
    default: return int64_t(v);
  }
}

}  // namespace redoubt::sim::cpu
