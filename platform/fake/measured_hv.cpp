#include "platform/fake/measured_hv.hpp"

#include <cstring>
#include <vector>

#include "abi/bare_hv_entry.hpp"
#include "abi/launch_outcome.hpp"
#include "abi/slb_layout.hpp"
#include "arch/x86/control_regs.hpp"
#include "arch/x86/paging.hpp"
#include "arch/x86/sse.hpp"
#include "platform/x86/drivers/amd_dev.hpp"

namespace redoubt::sim {
namespace {

// The bare-metal DEV driver, run natively against the simulated machine's ports.
class BusPorts final : public x86::PortBus {
 public:
  explicit BusPorts(Bus& b) : b_(b) {}
  uint8_t in8(uint16_t p) override { return uint8_t(b_.in(p, 1)); }
  uint16_t in16(uint16_t p) override { return uint16_t(b_.in(p, 2)); }
  uint32_t in32(uint16_t p) override { return b_.in(p, 4); }
  void out8(uint16_t p, uint8_t v) override { b_.out(p, 1, v); }
  void out16(uint16_t p, uint16_t v) override { b_.out(p, 2, v); }
  void out32(uint16_t p, uint32_t v) override { b_.out(p, 4, v); }

 private:
  Bus& b_;
};

class Ram final : public hal::PhysMem {
 public:
  explicit Ram(PhysicalMemory& m) : m_(m) {}
  uint8_t* map(uint64_t pa, uint64_t n) override { return m_.map(pa, n); }

 private:
  PhysicalMemory& m_;
};

}  // namespace

MeasuredHypervisor::MeasuredHypervisor(Machine& m, TpmDevice& tpm, ConsoleSink sink, const LaunchLayout& layout,
                                       FullSystemOptions opt)
    : m_(m), layout_(layout), system_(std::make_unique<FullSystem>(m, tpm, std::move(sink), opt)) {}

Status MeasuredHypervisor::enable_dev() {
  // The pages the SL protected (through SimPlatform) become the DEV table's
  // initial contents, as sl.bin's enable protocol would write them (docs/dma.md).
  std::vector<x86::PhysRange> ranges;
  const uint64_t pages = m_.mem().size() / 4096;
  for (uint64_t p = 0; p < pages;) {
    if (!m_.dev().page_protected(p * 4096)) {
      ++p;
      continue;
    }
    uint64_t q = p;
    while (q < pages && m_.dev().page_protected(q * 4096)) ++q;
    ranges.push_back({p * 4096, (q - p) * 4096});
    p = q;
  }
  BusPorts ports(system_->bus());
  Ram ram(m_.mem());
  x86::AmdDev dev(ports, ram);
  REDOUBT_TRY(dev.enable(layout_.dev_table, layout_.dev_table_size, ranges.data(), ranges.size()));
  // As after sl.bin: the protection is the table's now (which hv.bin may change: assigned
  // guests' RAM, docs/dma.md), plus SKINIT's SL_DEV_EN over the SLB.
  m_.dev().clear_protected();
  m_.dev().protect(layout_.slb_base, 0x10000);
  return Status::ok();
}

Status MeasuredHypervisor::enter(hal::HypervisorHandoff& ho) {
  using abi::kBareBootAreaBytes;
  REDOUBT_TRY(enable_dev());
  if (ho.hv_memory_size < kBareBootAreaBytes + (64 << 10))
    return Status::fail(Err::malformed, "hypervisor memory has no room for the boot area");
  const uint64_t area = ho.hv_memory_pa + ho.hv_memory_size - kBareBootAreaBytes;
  uint8_t* p = m_.mem().map(area, kBareBootAreaBytes);
  if (!p) return Status::fail(Err::fault, "boot area 0x%llx is outside RAM", (unsigned long long)area);
  auto* e = reinterpret_cast<abi::BareHvEntry*>(p);
  std::memset(p, 0, abi::kBarePageTablesOffset);
  e->hdr.magic = abi::kBareHvMagic;
  e->hdr.stack_top = area + abi::kBareStackTopOffset;
  e->hdr.page_tables_pa = area + abi::kBarePageTablesOffset;
  e->hdr.outcome_pa = layout_.outcome;
  e->hdr.flags = test_flags_;  // test-only flags (the SL always writes 0)
  e->handoff = ho;
  e->handoff.hv_memory_size -= kBareBootAreaBytes;

  // The CPU as sl.bin leaves it (platform/x86/hv_handoff.cpp): long mode on an
  // identity map (built in the unused SLB tail, DEV-protected), interrupts off,
  // GIF = 0 (since SKINIT), SSE enabled for BearSSL, RDI = the boot area.
  const uint64_t pml4 = layout_.slb_base + 0xC000, pdpt = pml4 + 0x1000;
  auto wr64 = [&](uint64_t pa, uint64_t v) { std::memcpy(m_.mem().map(pa, 8), &v, 8); };
  for (uint64_t i = 0; i < 1024; ++i) wr64(pml4 + 8 * i, 0);
  wr64(pml4, pdpt | x86::kPtePresent | x86::kPteWrite);
  for (uint64_t i = 0; i < 512; ++i) wr64(pdpt + 8 * i, (i << 30) | x86::kPtePresent | x86::kPteWrite | x86::kPteLarge);
  cpu::Cpu& c = system_->cpu();
  c.cr3 = pml4;
  c.cr4 = x86::kCr4Pae | x86::kCr4Osfxsr | x86::kCr4Osxmmexcpt;
  c.efer = x86::kEferLme | x86::kEferLma | x86::kEferNxe;
  c.cr0 = x86::kCr0Pe | x86::kCr0Mp | x86::kCr0Et | x86::kCr0Pg;
  c.set_rflags(2);
  c.cs = Segment{0x08, 0, 0xFFFFFFFF, 0x29B};
  c.ss = c.ds = c.es = Segment{0x10, 0, 0xFFFFFFFF, 0xC93};
  c.cpl = 0;
  c.gif = false;
  c.gpr[cpu::RDI] = area;
  c.gpr[cpu::RSP] = e->hdr.stack_top;
  c.rip() = ho.hv_entry_pa;
  c.update_mode();
  c.flush_tlb_all_current();
  c.code_modified_externally();

  const cpu::Stop why = system_->run();
  ho.event_log_used = e->handoff.event_log_used;
  abi::LaunchOutcome out{};
  std::memcpy(&out, m_.mem().map(layout_.outcome, sizeof out), sizeof out);
  out.message[sizeof out.message - 1] = 0;
  if (std::memcmp(out.magic, abi::kOutcomeMagic, 8) == 0) ho.event_log_used = out.event_log_used;
  if (why != cpu::Stop::poweroff) {
    const cpu::HostFault& f = c.first_host_fault;
    const char* how = why == cpu::Stop::shutdown ? "triple fault" : why == cpu::Stop::halted ? "halted for good"
                    : why == cpu::Stop::budget   ? "no power-off (a hang)" : "stopped";
    if (f.valid)
      return Status::fail(Err::fault, "hv.bin: %s after %s at RIP 0x%llx, without powering off", how,
                          CpuFault{f.vector, f.error, ""}.name().c_str(), (unsigned long long)f.rip);
    return Status::fail(Err::fault, "hv.bin: %s at RIP 0x%llx, without powering off", how, (unsigned long long)c.rip());
  }
  const auto status = abi::ExitStatus((system_->exit_status() - 1) >> 1);
  if (status != abi::ExitStatus::ok) return Status::fail(Err(out.err ? out.err : uint32_t(Err::internal)), "%s", out.message);
  return Status::ok();
}

}  // namespace redoubt::sim
