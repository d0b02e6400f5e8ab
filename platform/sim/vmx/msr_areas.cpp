// VMX MSR lists (Intel SDM vol. 3C §27.4 loading at VM entry, §28.4 storing and §28.6
// loading at VM exit).
#include "platform/sim/vmx/msr_areas.hpp"

#include <cstring>
#include <string>

namespace redoubt::sim::vmx {

using cpu::CpuError;

namespace {

constexpr uint32_t kSysenterCs = 0x174, kSysenterEsp = 0x175, kSysenterEip = 0x176, kPat = 0x277;
constexpr uint32_t kEfer = 0xC0000080, kStar = 0xC0000081, kLstar = 0xC0000082, kCstar = 0xC0000083,
                   kSfmask = 0xC0000084, kFsBase = 0xC0000100, kGsBase = 0xC0000101, kKernelGsBase = 0xC0000102,
                   kTscAux = 0xC0000103, kTsc = 0x10, kSmmMonitorCtl = 0x9B;
constexpr uint64_t kEferLme = 1u << 8, kEferLma = 1u << 10, kEferNxe = 1u << 11, kEferSce = 1;

uint8_t* entry_at(PhysicalMemory& mem, uint64_t addr, uint64_t count) {
  if (count > mem.size() / 16 || !mem.contains(addr, count * 16)) throw CpuError("VMX MSR list outside RAM");
  return mem.map(addr, count * 16);
}
uint64_t rd64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

// WRMSR's acceptance of `v` for `msr` on the simulated Intel CPU (exec_sys.cpp's wrmsr), and the write.
bool writable(const cpu::Cpu& c, uint32_t msr, uint64_t v) {
  switch (msr) {
    case kSysenterCs: case kSysenterEsp: case kSysenterEip: case kStar: case kLstar: case kCstar:
    case kSfmask: case kKernelGsBase: case kTscAux:
      return true;
    case kPat: return true;
    case kEfer:  // the bits the CPU implements (no SVME on Intel), LME unchanged while paging is on
      if (v & ~(kEferSce | kEferLme | kEferLma | kEferNxe)) return false;
      if (((v ^ c.efer) & kEferLme) && (c.cr0 & (1ull << 31))) return false;
      return true;
    default: return false;
  }
}
void write(cpu::Cpu& c, uint32_t msr, uint64_t v) {
  switch (msr) {
    case kSysenterCs: c.sysenter_cs = v; break;
    case kSysenterEsp: c.sysenter_esp = v; break;
    case kSysenterEip: c.sysenter_eip = v; break;
    case kPat: c.pat = v; break;
    case kEfer: c.efer = (v & ~kEferLma) | (c.efer & kEferLma); c.update_mode(); break;  // LMA is read-only
    case kStar: c.star = v; break;
    case kLstar: c.lstar = v; break;
    case kCstar: c.cstar = v; break;
    case kSfmask: c.sfmask = v; break;
    case kKernelGsBase: c.kernel_gs_base = v; break;
    case kTscAux: c.tsc_aux = uint32_t(v); break;
    default: break;
  }
}
bool read(const cpu::Cpu& c, uint32_t msr, uint64_t& v) {
  switch (msr) {
    case kTsc: v = c.icount; return true;
    case kSysenterCs: v = c.sysenter_cs; return true;
    case kSysenterEsp: v = c.sysenter_esp; return true;
    case kSysenterEip: v = c.sysenter_eip; return true;
    case kPat: v = c.pat; return true;
    case kEfer: v = c.efer; return true;
    case kStar: v = c.star; return true;
    case kLstar: v = c.lstar; return true;
    case kCstar: v = c.cstar; return true;
    case kSfmask: v = c.sfmask; return true;
    case kFsBase: v = c.fs.base; return true;
    case kGsBase: v = c.gs.base; return true;
    case kKernelGsBase: v = c.kernel_gs_base; return true;
    case kTscAux: v = c.tsc_aux; return true;
    default: return false;
  }
}

}  // namespace

uint32_t msr_load_failure(const cpu::Cpu& c, PhysicalMemory& mem, uint64_t addr, uint64_t count) {
  const uint8_t* p = entry_at(mem, addr, count);
  for (uint64_t i = 0; i < count; ++i, p += 16) {
    const uint64_t head = rd64(p), data = rd64(p + 8);
    const uint32_t msr = uint32_t(head);
    // §27.4: reserved bits 63:32; FS/GS base; IA32_SMM_MONITOR_CTL; the x2APIC range 800H-8FFH;
    // and anything the WRMSR of the model would #GP on.
    if ((head >> 32) || msr == kFsBase || msr == kGsBase || msr == kSmmMonitorCtl || (msr >> 8) == 0x8 ||
        !writable(c, msr, data))
      return uint32_t(i + 1);
  }
  return 0;
}

void load_msr_list(cpu::Cpu& c, PhysicalMemory& mem, uint64_t addr, uint64_t count) {
  if (const uint32_t bad = msr_load_failure(c, mem, addr, count))
    throw CpuError("VMX abort (§28.7): VM-exit MSR-load entry " + std::to_string(bad) + " cannot be loaded");
  const uint8_t* p = entry_at(mem, addr, count);
  for (uint64_t i = 0; i < count; ++i, p += 16) write(c, uint32_t(rd64(p)), rd64(p + 8));
}

void store_msr_list(cpu::Cpu& c, PhysicalMemory& mem, uint64_t addr, uint64_t count) {
  uint8_t* p = entry_at(mem, addr, count);
  for (uint64_t i = 0; i < count; ++i, p += 16) {
    const uint64_t head = rd64(p);
    uint64_t v = 0;
    // §28.4: reserved bits, the x2APIC range, IA32_SMBASE or an MSR RDMSR cannot read: a VMX abort.
    if ((head >> 32) || (uint32_t(head) >> 8) == 0x8 || !read(c, uint32_t(head), v))
      throw CpuError("VMX abort (§28.7): VM-exit MSR-store entry " + std::to_string(i + 1) + " cannot be stored");
    std::memcpy(p + 8, &v, 8);
  }
}

}  // namespace redoubt::sim::vmx
