#include "tools/research/exit_trace.hpp"

#include <cstdio>
#include <stdexcept>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/vmcb.hpp"
#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/memory.hpp"

namespace redoubt::tools {

namespace {
using Clock = std::chrono::steady_clock;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

constexpr const char* kCsvHeader =
    "seq,asid,vmcb,exit_code,exit_name,exit_info1,exit_info2,guest_rip,guest_instructions,guest_ns,host_ns,"
    "host_instructions,tlb_hits,tlb_misses,walks,walk_refs,nested_walk_refs\n";
}  // namespace

ExitTrace::ExitTrace(const std::string& path)
    : path_(path), format_(ends_with(path, ".csv") ? Format::csv : Format::jsonl) {
  out_.open(path, std::ios::binary | std::ios::trunc);
  if (!out_) throw std::runtime_error("--trace " + path + ": cannot open for writing");
  if (format_ == Format::csv) out_ << kCsvHeader;
}

ExitTrace::~ExitTrace() = default;

void ExitTrace::world_switch(const sim::cpu::Cpu& c, sim::PhysicalMemory& mem, uint64_t vmcb_pa, bool entering,
                             bool host_instructions_counted) {
  host_counted_ = host_instructions_counted;
  const auto now = Clock::now();
  const auto* v = reinterpret_cast<const svm::Vmcb*>(mem.map(vmcb_pa, sizeof(svm::Vmcb)));
  if (!v) return;  // VMRUN refuses such a VMCB before any guest runs: nothing to trace
  const uint32_t asid = v->control.guest_asid;
  auto per_asid = [&](uint32_t a) {
    auto it = c.counters.per_asid.find(a);
    return it == c.counters.per_asid.end() ? sim::cpu::AsidCounters{} : it->second;
  };
  if (entering) {
    // The previous exit's handling ends here: the hypervisor's time and instructions between
    // that #VMEXIT and this VMRUN (the world switch out and back in included).
    if (pending_.valid) {
      const uint64_t ns = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - pending_.exit_time).count());
      write(pending_, true, ns, c.icount - pending_.exit_icount);
      pending_.valid = false;
    }
    enter_time_ = now;
    enter_guest_instr_ = per_asid(asid).instructions;
    enter_walks_ = c.counters.walks;
    enter_refs_ = c.counters.walk_refs;
    enter_nrefs_ = c.counters.nested_walk_refs;
    enter_icount_ = c.icount;
    return;
  }
  const sim::cpu::AsidCounters a = per_asid(asid);
  Pending p;
  p.valid = true;
  p.seq = seq_++;
  p.vmcb = vmcb_pa;
  p.asid = asid;
  p.code = v->control.exitcode;  // APM vol. 2 §15.6: EXITCODE/EXITINFO1/EXITINFO2 written at #VMEXIT
  p.info1 = v->control.exitinfo1;
  p.info2 = v->control.exitinfo2;
  p.rip = v->save.rip;
  p.guest_instructions = a.instructions - enter_guest_instr_;
  p.guest_ns =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - enter_time_).count());
  p.tlb_hits = a.tlb_hits;
  p.tlb_misses = a.tlb_misses;
  p.walks = c.counters.walks - enter_walks_;
  p.walk_refs = c.counters.walk_refs - enter_refs_;
  p.nested_walk_refs = c.counters.nested_walk_refs - enter_nrefs_;
  p.exit_icount = c.icount;
  p.exit_time = now;
  pending_ = p;
}

void ExitTrace::write(const Pending& p, bool have_host, uint64_t host_ns, uint64_t host_instructions) {
  const char* name = svm::exit_code_name(p.code);
  const bool hi = have_host && host_counted_;
  if (format_ == Format::csv) {
    out_ << p.seq << ',' << p.asid << ',' << hex(p.vmcb) << ',' << hex(p.code) << ',' << name << ','
         << hex(p.info1) << ',' << hex(p.info2) << ',' << hex(p.rip) << ',' << p.guest_instructions << ','
         << p.guest_ns << ',';
    if (have_host) out_ << host_ns;
    out_ << ',';
    if (hi) out_ << host_instructions;
    out_ << ',' << p.tlb_hits << ',' << p.tlb_misses << ',' << p.walks << ',' << p.walk_refs << ','
         << p.nested_walk_refs << '\n';
  } else {
    // Hand-formatted: one object per line, the same keys as the CSV header, numbers as numbers
    // and addresses/exit fields as hex strings (64-bit values exceed a JSON double).
    out_ << "{\"seq\":" << p.seq << ",\"asid\":" << p.asid << ",\"vmcb\":\"" << hex(p.vmcb) << "\",\"exit_code\":\""
         << hex(p.code) << "\",\"exit_name\":\"" << name << "\",\"exit_info1\":\"" << hex(p.info1)
         << "\",\"exit_info2\":\"" << hex(p.info2) << "\",\"guest_rip\":\"" << hex(p.rip)
         << "\",\"guest_instructions\":" << p.guest_instructions << ",\"guest_ns\":" << p.guest_ns
         << ",\"host_ns\":";
    if (have_host) out_ << host_ns; else out_ << "null";
    out_ << ",\"host_instructions\":";
    if (hi) out_ << host_instructions; else out_ << "null";
    out_ << ",\"tlb_hits\":" << p.tlb_hits << ",\"tlb_misses\":" << p.tlb_misses << ",\"walks\":" << p.walks
         << ",\"walk_refs\":" << p.walk_refs << ",\"nested_walk_refs\":" << p.nested_walk_refs << "}\n";
  }
}

void ExitTrace::finish() {
  if (pending_.valid) {
    // The last exit's handling has no next VMRUN (the guest ended or the machine powered off):
    // its host time is left empty rather than counting the teardown.
    write(pending_, false, 0, 0);
    pending_.valid = false;
  }
  out_.flush();
  if (!out_) throw std::runtime_error("--trace " + path_ + ": write failed (disk full?)");
  out_.close();
  if (!out_) throw std::runtime_error("--trace " + path_ + ": close failed");
}

}  // namespace redoubt::tools
