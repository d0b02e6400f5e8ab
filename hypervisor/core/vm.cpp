#include "hypervisor/core/vm.hpp"

#include <bearssl.h>

#include <cstdarg>
#include <cstring>

#include "arch/svm/exit_codes.hpp"
#include "arch/x86/paging.hpp"
#include "hypervisor/core/entry.hpp"
#include "hypervisor/core/guest_abi.hpp"
#include "hypervisor/core/hypercall_abi.hpp"
#include "platform/hal/format.hpp"
#include "abi/boot_params.hpp"

namespace redoubt::hv {

using namespace x86;

// ---- memory ------------------------------------------------------------

Status PhysTables::alloc_table(uint64_t& addr) {
  if (!alloc_) return Status::fail(Err::internal, "page tables: read-only table memory");
  return alloc_->alloc_page(addr, "nested page table");
}

uint64_t* PhysTables::table(uint64_t addr) { return reinterpret_cast<uint64_t*>(mem_->map(addr, 4096)); }

Status GuestMemory::add(uint64_t gpa, uint64_t hpa, uint64_t size) {
  if (count_ == kMaxRegions) return Status::fail(Err::internal, "guest memory: too many regions");
  r_[count_++] = Region{gpa, hpa, size};
  return Status::ok();
}

uint8_t* GuestMemory::ptr(uint64_t gpa, uint64_t n) const {
  for (uint32_t i = 0; i < count_; ++i) {
    const Region& r = r_[i];
    if (gpa >= r.gpa && gpa - r.gpa < r.size && n <= r.size - (gpa - r.gpa)) return mem_->map(r.hpa + (gpa - r.gpa), n);
  }
  return nullptr;
}

Status GuestRamTables::alloc_table(uint64_t& addr) {
  if (next_ + 4096 > end_) return Status::fail(Err::internal, "guest page tables: no room below 0x%llx",
                                                (unsigned long long)end_);
  addr = next_;
  next_ += 4096;
  std::memset(m_.ptr(addr, 4096), 0, 4096);
  return Status::ok();
}

uint64_t* GuestRamTables::table(uint64_t addr) { return reinterpret_cast<uint64_t*>(m_.ptr(addr, 4096)); }

// ---- creation ----------------------------------------------------------

void Vm::kill(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  format_v(rec_->reason, sizeof rec_->reason, fmt, ap);
  va_end(ap);
  rec_->state = uint32_t(GuestState::killed);
  uart_.flush();
  hv_->platform.console().print("[hv] guest %s killed: %s\n", rec_->name, rec_->reason);
}

Status Vm::load(const hal::HypervisorHandoff::Guest& g) {
  hal::PhysMem& pm = hv_->platform.mem();
  if (!guest_ram_size_ok(g.ram_size))
    return Status::fail(Err::malformed, "guest %s: RAM must be a multiple of 2 MiB, at least 4 MiB", g.name);
  if (!guest_image_fits(g.ram_size, g.image_size))
    return Status::fail(Err::malformed, "guest %s: image of %llu bytes does not fit in %llu bytes of RAM", g.name,
                        (unsigned long long)g.image_size, (unsigned long long)g.ram_size);
  uint8_t* ram = pm.map(g.ram_pa, g.ram_size);
  const uint8_t* image = pm.map(g.image_pa, g.image_size);
  if (!ram || !image) return Status::fail(Err::fault, "guest %s: RAM or image outside physical memory", g.name);
  if (!hv_->platform.dma().is_protected(g.ram_pa, g.ram_size) ||
      !hv_->platform.dma().is_protected(g.image_pa, g.image_size))
    return Status::fail(Err::internal, "guest %s: RAM or image is not DMA-protected", g.name);

  // The initrd goes after the image, page aligned.
  const uint64_t initrd_gpa = guest_initrd_gpa(g.image_size);
  const uint8_t* initrd = nullptr;
  if (g.initrd_size) {
    initrd = pm.map(g.initrd_pa, g.initrd_size);
    if (!initrd || !hv_->platform.dma().is_protected(g.initrd_pa, g.initrd_size))
      return Status::fail(Err::internal, "guest %s: initrd outside RAM or not DMA-protected", g.name);
    if (!guest_initrd_fits(g.ram_size, g.image_size, g.initrd_size))
      return Status::fail(Err::malformed, "guest %s: image and initrd do not fit in %llu bytes of RAM", g.name,
                          (unsigned long long)g.ram_size);
  }

  (void)pm.zero(g.ram_pa, g.ram_size);  // no stale data from before the launch (mapped above)
  std::memcpy(ram + kGuestImageGpa, image, g.image_size);
  if (initrd) std::memcpy(ram + initrd_gpa, initrd, g.initrd_size);

  // Admission (issue 4) on the very bytes that will run, before the first instruction.
  AdmissionResult adm;
  hv_->admission.admit(g, {ram + kGuestImageGpa, g.image_size},
                       {initrd ? ram + initrd_gpa : ram, g.initrd_size}, adm);
  rec_->admission = uint32_t(adm.how);
  format(rec_->refusal, sizeof rec_->refusal, "%s", adm.refusal);
  format(rec_->signed_name, sizeof rec_->signed_name, "%s", adm.name);
  format(rec_->version, sizeof rec_->version, "%s", adm.version);
  rec_->svn = adm.svn;
  if (adm.how == Admission::refused) {
    (void)pm.zero(g.ram_pa, g.ram_size);  // scrub: nothing of a refused guest stays in its RAM
    rec_->scrubbed = 1;
    format(rec_->reason, sizeof rec_->reason, "%s: %s", adm.refusal, adm.reason);
    return Status::fail(Err::wrong_key, "guest %s refused: %s", g.name, adm.refusal);
  }
  mem_.init(pm);
  REDOUBT_TRY(mem_.add(0, g.ram_pa, g.ram_size));

  GuestBootInfo bi{};
  std::memcpy(bi.magic, kGuestBootInfoMagic, 8);
  bi.guest_id = rec_->id;
  bi.guest_count = hv_->handoff.guest_count;
  bi.ram_size = g.ram_size;
  bi.image_gpa = kGuestImageGpa;
  bi.image_size = g.image_size;
  std::memcpy(bi.args, g.args, sizeof bi.args);
  std::memcpy(bi.name, g.name, sizeof bi.name);
  if (g.initrd_size) {
    bi.initrd_gpa = initrd_gpa;
    bi.initrd_size = g.initrd_size;
  }
  bi.cmdline_gpa = kGuestCmdlineGpa;
  bi.cmdline_len = uint32_t(adm.cmdline.size());  // <= 1023 (policy::kMaxCmdline)
  bi.svn = uint32_t(adm.svn);
  if (!adm.cmdline.empty()) std::memcpy(ram + kGuestCmdlineGpa, adm.cmdline.data(), adm.cmdline.size());
  std::memcpy(ram + kGuestBootInfoGpa, &bi, sizeof bi);

  // Accessed bits preset (type 0xB / 0x3): the CPU sets them at the first CS/SS load through the
  // table, e.g. an interrupt's delivery (SDM vol. 3A §3.4.5.1), and that write faults if the guest
  // has since mapped its GDT read-only (the mmu guest does); Linux presets them for the same reason.
  static constexpr uint64_t kGdt[3] = {0, 0x00AF9B000000FFFFull, 0x00CF93000000FFFFull};
  std::memcpy(ram + kGuestGdtGpa, kGdt, sizeof kGdt);

  // Identity map [0, 4 GiB) with 2 MiB pages: the guest may touch any
  // guest-physical address; the nested page tables decide what exists.
  GuestRamTables gt(mem_, kGuestPml4Gpa, kGuestTablesEnd);
  PageTableBuilder gpt(gt);
  REDOUBT_TRY(gpt.create());
  REDOUBT_TRY(gpt.map(0, 0, kGuestIdentityMapBytes, kPteWrite));

  // Nested page tables: guest-physical [0, ram) -> the guest's own RAM, and nothing else.
  npt_mem_ = PhysTables(pm, &hv_->alloc);
  REDOUBT_TRY(npt_.create());
  REDOUBT_TRY(npt_.map(0, g.ram_pa, g.ram_size, hv_->slat_ram_flags));
  if (hv_->test_flags & kHvTestNptMapsHost)  // TEST ONLY (redoubt attack --protection-off): no isolation
    REDOUBT_TRY(npt_.map(g.ram_size, g.ram_size, kGuestIdentityMapBytes - g.ram_size, hv_->slat_ram_flags));
  return Status::ok();
}

Status Vm::create(Hypervisor& hv, uint32_t id, const hal::HypervisorHandoff::Guest& g) {
  hv_ = &hv;
  rec_ = &hv.record->guests[id];
  std::memset(rec_, 0, sizeof *rec_);
  std::memcpy(rec_->name, g.name, sizeof rec_->name);
  rec_->name[sizeof rec_->name - 1] = 0;
  rec_->id = id;
  rec_->asid = id + 1;
  rec_->ram_pa = g.ram_pa;
  rec_->ram_size = g.ram_size;
  rec_->state = uint32_t(GuestState::failed);

  default_policy(policy_);
  if (g.flags & sl::kGuestNpfInject) policy_.npf = NpfAction::inject_pf;
  if (g.flags & sl::kGuestNpfUnlimited) policy_.max_violations = 0xFFFFFFFFu;
  if (g.flags & sl::kGuestCpuidUnmasked) policy_.cpuid.hide_hypervisor = policy_.cpuid.hide_svm = false;
  if (g.io_count) policy_.io[policy_.io_count++] = IoGrant{g.io_base, g.io_count};
  if (hv.test_flags & kHvTestIoPassthrough) {  // TEST ONLY: every port but the virtual UART's
    policy_.io[0] = IoGrant{0, VirtualUart::kBase};
    policy_.io[1] = IoGrant{VirtualUart::kBase + 8, uint16_t(0x10000 - VirtualUart::kBase - 8)};
    policy_.io_count = 2;
  }
  // CPUID bits the signed launch policy hides from every guest.
  if (const policy::LaunchPolicy* lp = hv.admission.policy())
    for (size_t i = 0; i < lp->cpuid_count && policy_.cpuid.clear_count < CpuidPolicy::kMaxClears; ++i) {
      const policy::CpuidMask& m = lp->cpuid[i];
      policy_.cpuid.clears[policy_.cpuid.clear_count++] =
          CpuidClear{m.leaf, m.subleaf, m.subleaf == policy::kCpuidAnySubleaf, m.reg, m.clear};
    }

  Status s = load(g);
  if (rec_->admission == uint32_t(Admission::refused) && rec_->refusal[0]) {
    rec_->state = uint32_t(GuestState::refused);
    return s;
  }
  // The backend the CPU has (Hypervisor::init chose it); the rest of the core does not know which.
  const bool switch_state = !(hv.test_flags & kHvTestNoGuestStateSwitch);
  if (hv.vendor == kVendorVmx) {
    if (s) s = vmx::build_io_bitmaps(hv.alloc, policy_.io, policy_.io_count, iopm_pa_);
    if (s) s = vmx::build_msr_bitmap(hv.alloc, msrpm_pa_);
    if (s) s = vmx_.create(hv.platform, hv.alloc, switch_state);
    if (s) vcpu_ = &vmx_;
  } else {
    if (s) s = svm::build_iopm(hv.alloc, policy_.io, policy_.io_count, iopm_pa_);
    if (s) s = svm::build_msrpm(hv.alloc, msrpm_pa_);
    if (s) s = svm_.create(hv.platform, hv.alloc, switch_state);
    if (s) vcpu_ = &svm_;
  }
  if (s) {
    VcpuEntry e{};
    e.rip = kGuestImageGpa;
    e.rsp = g.ram_size;
    e.cr3 = kGuestPml4Gpa;
    e.gdt_base = kGuestGdtGpa;
    e.gdt_limit = 3 * 8 - 1;
    e.npt_root = npt_.root();
    e.asid = rec_->asid;
    e.io_map_pa = iopm_pa_;
    e.msr_map_pa = msrpm_pa_;
    s = vcpu_->setup(e);
    if (s && (g.flags & sl::kGuestShadowPaging)) s = enable_shadow();
  }
  uint64_t serial_pa = 0;
  constexpr uint64_t kSerialPages = 16;
  if (s) s = hv.alloc.alloc(kSerialPages, 1, serial_pa, "serial log");
  if (!s) {
    format(rec_->reason, sizeof rec_->reason, "could not create: %s", s.message());
    return s;
  }
  if (g.device_count) {
    s = assign_devices(g);
    if (!s) {
      format(rec_->reason, sizeof rec_->reason, "could not assign its devices: %s", s.message());
      return s;
    }
  }
  br_sha256_init(reinterpret_cast<br_sha256_context*>(exit_hash_));  // before any VMRUN (see finish_exit_digest)
  exit_hash_on_ = true;
  rec_->serial_pa = serial_pa;
  rec_->serial_cap = kSerialPages * 4096;
  rec_->vmcb_pa = vcpu_->control_block_pa();
  rec_->npt_root = npt_.root();
  rec_->npt_tables = npt_.table_count();
  uart_.init(&hv.platform.console(), rec_->name, hv.alloc.map(serial_pa, rec_->serial_cap), rec_->serial_cap);
  rec_->state = uint32_t(GuestState::runnable);
  return Status::ok();
}

// ---- exits ---------------------------------------------------------------

// The exit digest (run_record.hpp exit_digest). After the first VMRUN the bare-metal host runs
// with CR0.EM = 1 and Debian's BearSSL uses SSE in br_sha256_init and br_sha256_out only: the
// context is set up in create() (before any VMRUN), fed with br_sha256_update, and finished here
// with the padding of FIPS 180-4 §5.1.1 through br_sha256_update and br_sha256_state (no SSE).
static_assert(sizeof(br_sha256_context) <= 128);

void Vm::finish_exit_digest() {
  if (!exit_hash_on_ || !rec_ || rec_->exit_digest_done) return;
  auto* ctx = reinterpret_cast<br_sha256_context*>(exit_hash_);
  const uint64_t bytes = rec_->exit_digest_count * 16;
  uint8_t pad[64 + 8] = {0x80};
  const size_t zeros = (64 + 56 - (bytes + 1) % 64) % 64;
  for (int i = 0; i < 8; ++i) pad[1 + zeros + i] = uint8_t((bytes * 8) >> (56 - 8 * i));  // the length in bits, big-endian
  br_sha256_update(ctx, pad, 1 + zeros + 8);
  br_sha256_state(ctx, rec_->exit_digest);  // the state words, big-endian: the digest once the padding is in
  rec_->exit_digest_done = 1;
}

void Vm::count_exit(const ExitEvent& e) {
  const uint64_t code = e.raw_code;
  ++rec_->exits_total;
  if (e.kind != ExitKind::intr && rec_->exit_trace_len < kExitTrace)
    rec_->exit_trace[rec_->exit_trace_len++] = {code, e.info1};
  if (e.kind != ExitKind::intr && exit_hash_on_) {
    // APM vol. 2 §15.10.2: IOIO EXITINFO1 bits 12:7 (address size, segment) are QEMU-blind; normalised away.
    const uint64_t v[2] = {code, code == svm::kExitIoio ? e.info1 & ~kIoioQemuBlind : e.info1};
    br_sha256_update(reinterpret_cast<br_sha256_context*>(exit_hash_), v, sizeof v);
    ++rec_->exit_digest_count;
  }
  if (code < kExitCountSlots)
    ++rec_->exit_counts[code];
  else if (e.kind == ExitKind::npf)
    ++rec_->exits_npf;
  else
    ++rec_->exits_other;
}

void Vm::check_timer(uint64_t now) {
  if (timer_.armed && now >= timer_.deadline) {
    timer_.pending = true;
    if (timer_.period) {
      // The next deadline after now, without a loop (set_timer bounds period and delay by
      // kMaxTimerTicks, so nothing here wraps: docs/hypercalls.md).
      timer_.deadline += ((now - timer_.deadline) / timer_.period + 1) * timer_.period;
    } else {
      timer_.armed = false;
    }
  }
}

bool Vm::serial_flooded() {
  if (uart_.dropped() <= policy_.serial_flood_bytes) return false;
  kill("serial flood: %llu bytes written after its %llu-byte serial log was full", (unsigned long long)uart_.dropped(),
       (unsigned long long)rec_->serial_cap);
  return true;
}

Vm::After Vm::handle_io(const ExitEvent& e) {
  if (e.io_string) {
    kill("string I/O (INS/OUTS) to port 0x%x is not supported", e.port);
    return After::stop;
  }
  GuestGprs& r = vcpu_->gprs();
  const uint64_t mask = e.io_size == 4 ? 0xFFFFFFFFull : e.io_size == 2 ? 0xFFFFull : 0xFFull;
  if (VirtualUart::claims(e.port)) {
    if (e.io_in)
      r.rax = (r.rax & ~mask) | uart_.in(e.port);
    else
      uart_.out(e.port, uint8_t(r.rax));
    if (serial_flooded()) return After::stop;
  } else {
    // Not granted by the policy: reads float high, writes go nowhere.
    ++rec_->io_denied;
    if (e.io_in) r.rax = (r.rax & ~mask) | mask;
  }
  vcpu_->skip(e, 1);
  return After::resume;
}

Vm::After Vm::handle_msr(const ExitEvent& e) {
  GuestGprs& r = vcpu_->gprs();
  const uint32_t msr = uint32_t(r.rcx);
  const uint64_t value = (r.rdx << 32) | (r.rax & 0xFFFFFFFFull);
  uint64_t out = 0;
  bool ok = true;
  switch (msr) {
    case 0x10:  // TSC
      if (e.msr_write) ok = false; else out = hv_->platform.svm().rdtsc();
      break;
    case 0x1B:  // APIC_BASE: BSP, xAPIC enabled at the default base
      if (e.msr_write) ok = value == 0xFEE00900ull; else out = 0xFEE00900ull;
      break;
    case 0x277:  // PAT
      if (e.msr_write) vcpu_->set_pat(value); else out = vcpu_->pat();
      break;
    case 0xC0000080: {  // EFER: SVME stays set and hidden (no nested SVM)
      const uint64_t guest_bits = kEferSce | kEferLme | kEferNxe;
      if (e.msr_write) {
        if (value & ~(guest_bits | kEferLma)) ok = false;
        // APM vol. 2 §3.1.7 / §14.6: changing EFER.LME while CR0.PG = 1 is #GP(0). Left to the
        // VMCB it would be an inconsistent state the next VMRUN refuses.
        else if (((value ^ vcpu_->efer()) & kEferLme) && (vcpu_->cr0() & kCr0Pg)) ok = false;
        else {
          const uint64_t old = vcpu_->efer();
          vcpu_->set_efer((old & ~guest_bits) | (value & guest_bits));
          if (shadow_on_) shadow_efer_changed(old, vcpu_->efer());
        }
      } else {
        out = vcpu_->efer() & ~kEferSvme;
      }
      break;
    }
    default: ok = false;
  }
  if (!ok) {
    ++rec_->msr_denied;
    vcpu_->inject_exception(13, true, 0, false, 0);  // #GP(0), RIP stays on the instruction
    return After::resume;
  }
  if (!e.msr_write) {
    r.rax = out & 0xFFFFFFFFull;
    r.rdx = out >> 32;
  }
  vcpu_->skip(e, 2);
  return After::resume;
}

Vm::After Vm::handle_hypercall(const ExitEvent& e) {
  GuestGprs& r = vcpu_->gprs();
  ++rec_->hypercalls;
  vcpu_->skip(e, 3);  // VMMCALL is 0F 01 D9
  int64_t ret = kHcOk;
  After after = After::resume;
  switch (r.rax) {
    case kHcConsoleWrite: {
      if (r.rsi > 4096) {
        ret = kHcEInval;
        break;
      }
      uint8_t buf[4096];
      if (!copy_from_guest(r.rdi, buf, r.rsi)) {
        ret = kHcEFault;
        break;
      }
      uart_.write_bytes(buf, r.rsi);
      if (serial_flooded()) return After::stop;
      ret = int64_t(r.rsi);
      break;
    }
    case kHcYield: after = After::yield; break;
    case kHcShutdown:
      rec_->exit_code = int64_t(r.rdi);
      rec_->state = uint32_t(GuestState::exited);
      format(rec_->reason, sizeof rec_->reason, "shutdown hypercall (exit code %lld)", (long long)r.rdi);
      uart_.flush();
      return After::stop;
    case kHcGetLaunchInfo: {
      if (r.rsi < sizeof(LaunchInfo)) {
        ret = kHcEInval;
        break;
      }
      LaunchInfo li{};
      li.hv_svn = hv_->handoff.hv_svn;
      std::memcpy(li.hv_version, hv_->handoff.hv_version, sizeof li.hv_version);
      li.hv_version[sizeof li.hv_version - 1] = 0;
      li.guest_id = rec_->id;
      if (!copy_to_guest(r.rdi, &li, sizeof li)) ret = kHcEFault;
      break;
    }
    case kHcSetTimer: {
      if (r.rsi == 0) {
        timer_ = GuestTimer{};
        break;
      }
      // A delay or period beyond kMaxTimerTicks would wrap the TSC arithmetic (a deadline in
      // the past that a period of 2^64-1 moves back by one tick per step).
      if (r.rdi < 32 || r.rdi > 255 || r.rsi > kMaxTimerTicks || r.rdx > kMaxTimerTicks) {
        ret = kHcEInval;
        break;
      }
      timer_.armed = true;
      timer_.pending = false;
      timer_.vector = uint8_t(r.rdi);
      // At most one guest timer interrupt per min_timer_ticks (docs/hypercalls.md).
      timer_.deadline = hv_->platform.svm().rdtsc() + (r.rsi < policy_.min_timer_ticks ? policy_.min_timer_ticks : r.rsi);
      timer_.period = r.rdx && r.rdx < policy_.min_timer_ticks ? policy_.min_timer_ticks : r.rdx;
      break;
    }
    default: ret = kHcENosys;
  }
  r.rax = uint64_t(ret);
  return after;
}

Vm::After Vm::handle_npf(const ExitEvent& e) {
  const uint64_t rip = vcpu_->rip();
  const uint32_t n = rec_->violation_count++;
  const bool kill_it = policy_.npf == NpfAction::kill || n >= policy_.max_violations;
  if (n < kMaxViolations)
    rec_->violations[n] = Violation{e.gpa, e.info1, rip,
                                    uint32_t(kill_it ? ViolationAction::killed : ViolationAction::injected_pf), 0};
  const char* access = e.npf_fetch ? "execute" : e.npf_write ? "write" : "read";
  if (kill_it) {
    rec_->fault_gpa = e.gpa;
    rec_->fault_info = e.info1;
    rec_->fault_rip = rip;
    kill("%s: %s of guest-physical 0x%llx%s, not mapped for this guest (RIP 0x%llx)", vcpu_->slat_fault_name(), access,
         (unsigned long long)e.gpa, e.npf_in_walk ? " during the guest page walk" : "", (unsigned long long)rip);
    return After::stop;
  }
  if (n < kMaxViolations)
    hv_->platform.console().print("[hv] guest %s: %s %s of guest-physical 0x%llx (RIP 0x%llx): #PF injected\n",
                                  rec_->name, vcpu_->slat_fault_name(), access, (unsigned long long)e.gpa, (unsigned long long)rip);
  // #PF with CR2 = the guest-physical address (with the identity map it is also
  // the virtual one; SVM does not report the guest-virtual address of a #NPF).
  uint32_t err = (e.npf_present ? kPfPresent : 0) | (e.npf_write ? kPfWrite : 0) | (e.npf_fetch ? kPfFetch : 0);
  vcpu_->inject_exception(14, true, err, true, e.gpa);
  return After::resume;
}

Vm::After Vm::handle(const ExitEvent& e) {
  GuestGprs& r = vcpu_->gprs();
  if (shadow_on_) {
    bool handled = false;
    const After a = handle_shadow(e, handled);
    if (handled) return a;
  }
  switch (e.kind) {
    case ExitKind::cpuid: {
      ++rec_->cpuid_exits;
      uint32_t out[4];
      cpuid_lookup(policy_.cpuid, uint32_t(r.rax), uint32_t(r.rcx), out);
      r.rax = out[0];
      r.rbx = out[1];
      r.rcx = out[2];
      r.rdx = out[3];
      vcpu_->skip(e, 2);
      return After::resume;
    }
    case ExitKind::io: return handle_io(e);
    case ExitKind::msr: return handle_msr(e);
    case ExitKind::hypercall: return handle_hypercall(e);
    case ExitKind::npf: return handle_npf(e);
    case ExitKind::intr: return After::resume;  // the scheduler looks at the clock
    case ExitKind::hlt:
      vcpu_->skip(e, 1);
      if (timer_.armed && vcpu_->interruptible()) {
        rec_->state = uint32_t(GuestState::halted);
        return After::yield;
      }
      rec_->state = uint32_t(GuestState::exited);
      format(rec_->reason, sizeof rec_->reason, "HLT with no wake-up source (interrupts %s, timer %s)",
             vcpu_->interruptible() ? "enabled" : "disabled", timer_.armed ? "armed" : "off");
      uart_.flush();
      return After::stop;
    case ExitKind::shutdown:
      kill("triple fault (%s) at RIP 0x%llx", hv_->vendor == kVendorVmx ? "VM exit: triple fault" : "#VMEXIT SHUTDOWN",
           (unsigned long long)vcpu_->rip());
      return After::stop;
    case ExitKind::invalid:
      // APM vol. 2 §15.5.1: the CPU refused the guest state (or could not go on with it).
      // Only this guest ends; the others keep running.
      kill("%s at RIP 0x%llx: CR0 0x%llx, CR4 0x%llx, EFER 0x%llx, CS attributes 0x%x", vcpu_->refused_entry_name(),
           (unsigned long long)vcpu_->rip(), (unsigned long long)vcpu_->cr0(), (unsigned long long)vcpu_->cr4(),
           (unsigned long long)(vcpu_->efer() & ~kEferSvme), unsigned(vcpu_->cs_attrib()));
      return After::stop;
    case ExitKind::exception:
      if (e.vector == 6) return handle_ud(e);
      kill("unexpected exception #%u at RIP 0x%llx", e.vector, (unsigned long long)vcpu_->rip());
      return After::stop;
    case ExitKind::other: break;
  }
  kill("unhandled %s 0x%llx (%s) at RIP 0x%llx", hv_->vendor == kVendorVmx ? "VM exit" : "#VMEXIT",
       (unsigned long long)e.raw_code, vcpu_->exit_name(e.raw_code), (unsigned long long)vcpu_->rip());
  return After::stop;
}

void Vm::run_slice(uint64_t slice_end) {
  hal::Svm& cpu = hv_->platform.svm();
  ++rec_->slices;
  for (;;) {
    const uint64_t now = cpu.rdtsc();
    check_timer(now);
    const uint64_t charged = rec_->run_ticks + rec_->exits_total * policy_.exit_charge_ticks;
    if (policy_.budget_ticks && charged >= policy_.budget_ticks) {
      kill("time budget of %llu TSC ticks exhausted: %llu ticks in the guest + %llu exits x %llu ticks",
           (unsigned long long)policy_.budget_ticks, (unsigned long long)rec_->run_ticks,
           (unsigned long long)rec_->exits_total, (unsigned long long)policy_.exit_charge_ticks);
      return;
    }
    if (policy_.budget_exits && rec_->exits_total >= policy_.budget_exits) {
      kill("exit budget of %llu #VMEXITs exhausted (%llu timer interrupts injected)",
           (unsigned long long)policy_.budget_exits, (unsigned long long)rec_->timer_irqs_injected);
      return;
    }
    if (timer_.pending && !vcpu_->event_pending() && vcpu_->interruptible()) {
      vcpu_->inject_interrupt(timer_.vector);
      timer_.pending = false;
      ++rec_->timer_irqs_injected;
    }
    uint64_t deadline = slice_end;
    if (hv_->test_flags & kHvTestNoPreemption) deadline = now + (1ull << 46);  // TEST ONLY: the guest keeps the CPU
    if (timer_.armed && timer_.deadline < deadline) deadline = timer_.deadline;
    if (deadline < now + policy_.min_timer_ticks) deadline = now + policy_.min_timer_ticks;  // the guest makes progress
    cpu.arm_timer(deadline, Hypervisor::kHostTimerVector);
    ExitEvent e;
    vcpu_->preempt_at(deadline);
    vcpu_->run(e);
    ++rec_->vmruns;
    const uint64_t after = cpu.rdtsc();
    rec_->run_ticks += after - now;
    count_exit(e);
    if (e.kind == ExitKind::intr) ++hv_->record->host_timer_exits;
    After a = handle(e);
    if (a != After::resume) return;
    if (e.kind == ExitKind::intr && after >= slice_end) return;  // preempted
  }
}

// ---- the hypervisor ------------------------------------------------------

}  // namespace redoubt::hv
