// SINIT as simulator logic: what the MLE DG (Intel TXT Software Development Guide 315168) says the
// SINIT ACM does after the processor authenticated and measured it — validate the TXT heap (App. C),
// the MLE page tables (§2.2) and MLE header (§2.1), the PMRs (C.4) and the RLPs' wait-for-SIPI state,
// enforce the owner's launch policy, measure (PCR17/18 under the legacy or the details/authorities mapping,
// sinit_measure.hpp),
// log (TCG 2.0 DRTM log, App. C.4 event log pointer element), write SinitMleData (C.5), program the
// VT-d PMRs, and start the MLE (§2.3). Every refusal caps PCR17/18 and leaves TXT.ERRORCODE.
#include <algorithm>
#include <cstring>
#include <optional>

#include "arch/intel/acm.hpp"
#include "arch/intel/lcp.hpp"
#include "arch/intel/mle.hpp"
#include "arch/intel/txt_heap.hpp"
#include "policy/fs/eventlog.hpp"
#include "policy/fs/hash.hpp"
#include "platform/sim/txt/senter.hpp"
#include "platform/sim/txt/sinit_measure.hpp"

namespace redoubt::sim {

namespace at = arch::txt;
using at::TxtError;

namespace {

std::string hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

struct Refusal {
  TxtError e;
  std::string why;
};

struct Heap {
  uint64_t bios = 0, bios_size = 0, os_mle = 0, os_mle_size = 0, os_sinit = 0, os_sinit_size = 0, sinit_mle = 0;
  at::BiosData bd{};
  at::OsSinitData os{};
  std::optional<at::EventLogPointer2_1> log;
};

// App. C: four regions, each "size (8 bytes, counting itself) + data", inside TXT.HEAP.
std::optional<Refusal> parse_heap(TxtMachine& m, Heap& h) {
  uint64_t base = m.chipset.heap_base, size = m.chipset.heap_size;
  if (size == 0 || !m.mem.contains(base, size)) return Refusal{TxtError::heap_malformed, "TXT heap at " + hex(base) + " (" + hex(size) + " bytes) is not in RAM"};
  uint64_t at_ = base, end = base + size;
  uint64_t starts[4], sizes[4];
  for (int i = 0; i < 3; ++i) {
    if (end - at_ < 8) return Refusal{TxtError::heap_malformed, "TXT heap ends inside region " + std::to_string(i)};
    uint64_t s;
    std::memcpy(&s, m.mem.map(at_, 8), 8);
    if (s < 8 || s > end - at_) return Refusal{TxtError::heap_malformed, "TXT heap region " + std::to_string(i) + " size " + hex(s) + " runs past the heap"};
    starts[i] = at_ + 8;
    sizes[i] = s - 8;
    at_ += s;
  }
  starts[3] = at_ + 8;
  sizes[3] = end - at_ < 8 ? 0 : end - at_ - 8;
  if (sizes[0] < sizeof(at::BiosData)) return Refusal{TxtError::heap_malformed, "BiosData is " + std::to_string(sizes[0]) + " bytes, too small"};
  if (sizes[2] < sizeof(at::OsSinitData)) return Refusal{TxtError::heap_malformed, "OsSinitData is " + std::to_string(sizes[2]) + " bytes, too small"};
  if (sizes[3] < sizeof(at::SinitMleData)) return Refusal{TxtError::heap_malformed, "no room for SinitMleData after OsSinitData"};
  h.bios = starts[0]; h.bios_size = sizes[0];
  h.os_mle = starts[1]; h.os_mle_size = sizes[1];
  h.os_sinit = starts[2]; h.os_sinit_size = sizes[2];
  h.sinit_mle = starts[3] - 8;
  std::memcpy(&h.bd, m.mem.map(h.bios, sizeof h.bd), sizeof h.bd);
  std::memcpy(&h.os, m.mem.map(h.os_sinit, sizeof h.os), sizeof h.os);
  if (h.bd.version < at::kBiosDataMinVersion) return Refusal{TxtError::heap_version, "BiosData version " + std::to_string(h.bd.version) + " < 2"};
  if (h.os.version < at::kOsSinitDataMinVersion || h.os.version > at::kOsSinitDataVersion)
    return Refusal{TxtError::heap_version, "OsSinitData version " + std::to_string(h.os.version) + " (SINIT supports 6-7)"};
  // C.1 extended elements after the fixed part, up to the END element.
  uint64_t p = h.os_sinit + sizeof(at::OsSinitData), pend = h.os_sinit + h.os_sinit_size;
  for (;;) {
    if (pend - p < sizeof(at::HeapExtElement)) return Refusal{TxtError::heap_malformed, "OsSinitData extended elements: no END element"};
    at::HeapExtElement el;
    std::memcpy(&el, m.mem.map(p, sizeof el), sizeof el);
    if (el.size < 8 || el.size > pend - p) return Refusal{TxtError::heap_malformed, "OsSinitData extended element type " + std::to_string(el.type) + " has size " + std::to_string(el.size)};
    if (el.type == at::kHeapExtEnd) break;
    if (el.type == at::kHeapExtEventLogPointer2_1) {
      if (el.size < 8 + 20) return Refusal{TxtError::heap_malformed, "event log pointer element is " + std::to_string(el.size) + " bytes"};
      at::EventLogPointer2_1 lp{};
      std::memcpy(&lp, m.mem.map(p + 8, 20), 20);
      h.log = lp;
    }
    p += el.size;
  }
  return std::nullopt;
}

// MLE DG §2.2: 3-level PAE-format tables, 4 KiB pages, linear [0, MLESize) mapped to ascending,
// contiguous physical pages. Returns the MLE's physical base.
std::optional<Refusal> walk_mle_tables(TxtMachine& m, const at::OsSinitData& os, uint64_t& phys_base,
                                       std::vector<uint64_t>& table_pages) {
  auto entry = [&](uint64_t table, uint64_t idx, uint64_t& out) {
    if (!m.mem.contains(table + idx * 8, 8)) return false;
    std::memcpy(&out, m.mem.map(table + idx * 8, 8), 8);
    return true;
  };
  constexpr uint64_t kAddr = 0x000FFFFFFFFFF000ull;
  if (os.mle_page_table_base == 0 || (os.mle_page_table_base & 0xFFF) || os.mle_size == 0)
    return Refusal{TxtError::mle_page_tables, "MLE page table base " + hex(os.mle_page_table_base) + " / MLE size " + hex(os.mle_size) + " is invalid"};
  table_pages.push_back(os.mle_page_table_base);
  for (uint64_t la = 0; la < os.mle_size; la += 4096) {
    uint64_t pdpte, pde, pte;
    if (!entry(os.mle_page_table_base, (la >> 30) & 3, pdpte) || !(pdpte & 1))
      return Refusal{TxtError::mle_page_tables, "MLE linear " + hex(la) + ": PDPTE not present"};
    if (!entry(pdpte & kAddr, (la >> 21) & 511, pde) || !(pde & 1) || (pde & 0x80))
      return Refusal{TxtError::mle_page_tables, "MLE linear " + hex(la) + ": PDE not present or a large page"};
    if (!entry(pde & kAddr, (la >> 12) & 511, pte) || !(pte & 1))
      return Refusal{TxtError::mle_page_tables, "MLE linear " + hex(la) + ": PTE not present"};
    for (uint64_t t : {pdpte & kAddr, pde & kAddr})
      if (std::find(table_pages.begin(), table_pages.end(), t) == table_pages.end()) table_pages.push_back(t);
    uint64_t pa = pte & kAddr;
    if (la == 0) phys_base = pa;
    else if (pa != phys_base + la) return Refusal{TxtError::mle_page_tables, "MLE linear " + hex(la) + " maps " + hex(pa) + ": pages not contiguous and ascending"};
  }
  if (!m.mem.contains(phys_base, os.mle_size)) return Refusal{TxtError::mle_page_tables, "MLE at " + hex(phys_base) + " is not in RAM"};
  return std::nullopt;
}

// MLE DG §2.1 Table 1: GUID, version >= the ACM's minimum, start < end <= size, entry inside.
std::optional<Refusal> check_mle_header(TxtMachine& m, const at::OsSinitData& os, uint64_t phys_base,
                                        uint32_t min_version, at::MleHeader& hdr) {
  if (os.mle_header_base > os.mle_size || os.mle_size - os.mle_header_base < sizeof hdr)
    return Refusal{TxtError::mle_header_range, "MLE header at linear " + hex(os.mle_header_base) + " is not inside the MLE"};
  std::memcpy(&hdr, m.mem.map(phys_base + os.mle_header_base, sizeof hdr), sizeof hdr);
  if (std::memcmp(hdr.uuid, at::kMleHeaderUuid, 16) != 0)
    return Refusal{TxtError::mle_header_guid, "no MLE header GUID at linear " + hex(os.mle_header_base)};
  if (hdr.version < min_version || (hdr.version >> 16) != 2)
    return Refusal{TxtError::mle_header_version, "MLE header version " + hex(hdr.version) + " (SINIT needs 2.x >= " + hex(min_version) + ")"};
  if (hdr.header_len < 0x2C || hdr.header_len > sizeof hdr)
    return Refusal{TxtError::mle_header_range, "MLE header length " + std::to_string(hdr.header_len) + " is not a 2.x header"};
  if (hdr.mle_start >= hdr.mle_end || hdr.mle_end > os.mle_size)
    return Refusal{TxtError::mle_header_range, "MLE start " + hex(hdr.mle_start) + " / end " + hex(hdr.mle_end) + " outside the MLE's " + hex(os.mle_size) + " bytes"};
  if (hdr.entry_point < hdr.mle_start || hdr.entry_point >= hdr.mle_end)
    return Refusal{TxtError::mle_header_range, "MLE entry point " + hex(hdr.entry_point) + " is outside the measured MLE [" + hex(hdr.mle_start) + ", " + hex(hdr.mle_end) + ")"};
  return std::nullopt;
}

bool in_pmr(const at::OsSinitData& os, uint64_t base, uint64_t size) {
  auto inside = [&](uint64_t b, uint64_t s) { return s != 0 && base >= b && base + size <= b + s; };
  return inside(os.pmr_low_base, os.pmr_low_size) || inside(os.pmr_high_base, os.pmr_high_size);
}

// C.4: PMR bases and sizes 2 MiB aligned, the low PMR below 4 GiB; the MLE and its page tables inside.
std::optional<Refusal> check_pmrs(const at::OsSinitData& os, uint64_t mle_base, const std::vector<uint64_t>& tables) {
  for (uint64_t v : {os.pmr_low_base, os.pmr_low_size, os.pmr_high_base, os.pmr_high_size})
    if (v % at::kPmrAlignment) return Refusal{TxtError::pmr_malformed, "PMR value " + hex(v) + " is not 2 MiB aligned"};
  if (os.pmr_low_base + os.pmr_low_size > (1ull << 32)) return Refusal{TxtError::pmr_malformed, "the low PMR ends above 4 GiB"};
  if (!in_pmr(os, mle_base, os.mle_size))
    return Refusal{TxtError::pmr_not_covering, "the MLE [" + hex(mle_base) + ", " + hex(mle_base + os.mle_size) + ") is not inside the requested PMRs (low " + hex(os.pmr_low_base) + "+" + hex(os.pmr_low_size) + ", high " + hex(os.pmr_high_base) + "+" + hex(os.pmr_high_size) + ")"};
  for (uint64_t t : tables)
    if (!in_pmr(os, t, 4096)) return Refusal{TxtError::pmr_not_covering, "MLE page table page " + hex(t) + " is not inside the requested PMRs"};
  return std::nullopt;
}

// The owner's LCP-like policy (lcp.hpp): when present, the MLE's SHA-256 must be listed.
std::optional<Refusal> check_lcp(TxtMachine& m, const at::OsSinitData& os, const std::vector<uint8_t>& mle,
                                 SenterResult& r, uint32_t& control) {
  if (os.lcp_po_base == 0 && os.lcp_po_size == 0) return std::nullopt;
  at::LcpPolicyHeader ph;
  if (os.lcp_po_size < sizeof ph || os.lcp_po_size > 64 * 1024 || !m.mem.contains(os.lcp_po_base, os.lcp_po_size))
    return Refusal{TxtError::lcp_malformed, "LCP policy at " + hex(os.lcp_po_base) + " (" + hex(os.lcp_po_size) + " bytes) is not readable"};
  r.lcp_policy = m.mem.read(os.lcp_po_base, os.lcp_po_size);
  std::memcpy(&ph, r.lcp_policy.data(), sizeof ph);
  if (std::memcmp(ph.magic, at::kLcpMagic, 8) != 0 || ph.version != at::kLcpVersion || ph.mle_count > at::kLcpMaxMles ||
      os.lcp_po_size != sizeof ph + uint64_t{ph.mle_count} * 32)
    return Refusal{TxtError::lcp_malformed, "LCP policy: bad magic, version, or " + std::to_string(ph.mle_count) + " MLE hashes for " + std::to_string(os.lcp_po_size) + " bytes"};
  Digest h = policy::hash(HashAlg::sha256, mle);
  for (uint32_t i = 0; i < ph.mle_count; ++i)
    if (std::memcmp(r.lcp_policy.data() + sizeof ph + i * 32, h.bytes, 32) == 0) {
      control = ph.policy_control;
      return std::nullopt;
    }
  return Refusal{TxtError::lcp_mle_not_allowed, "the MLE's SHA-256 is not in the owner's LCP policy (" + std::to_string(ph.mle_count) + " allowed)"};
}

}  // namespace

void run_sinit(TxtMachine& m, SenterResult& r) {
  BankList banks = m.tpm.active_banks();
  m.tpm.set_locality(3);  // SINIT runs at locality 3 (MLE DG §1.x: locality 3 is the ACM's)
  // The log: once the heap names a usable container, every event (a refusal's cap too) goes there.
  std::optional<policy::EventLogWriter> log;
  uint8_t* log_buf = nullptr;
  auto log_event = [&](uint32_t pcr, uint32_t type, const DigestList& d, std::span<const uint8_t> data) {
    if (log && log->append(pcr, type, d, data).is_ok()) r.log_bytes = log->size();
  };
  auto refuse = [&](const Refusal& f) {
    std::string text = std::string(at::txt_error_name(f.e)) + ": " + f.why;
    DigestList d = policy::hash_banks(banks, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    for (uint32_t pcr : {17u, 18u}) {
      m.tpm.pcr_extend(pcr, d);  // the cap: no good PCR17/18 value can follow (docs/intel.md)
      log_event(pcr, at::evtype::kCapValue, d, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    }
    m.chipset.shutdown(f.e);
    r.error = f.e;
    r.message = "SINIT refused the launch (" + text + ")";
    m.tpm.set_locality(0);
  };

  Heap heap;
  if (auto f = parse_heap(m, heap)) return refuse(*f);
  if (heap.log) {
    const auto& lp = *heap.log;
    if (lp.allocated_size < 4096 || lp.allocated_size > (1u << 20) || !m.mem.contains(lp.physical_address, lp.allocated_size))
      return refuse({TxtError::event_log, "event log container at " + hex(lp.physical_address) + " (" + std::to_string(lp.allocated_size) + " bytes) is unusable"});
    log_buf = m.mem.map(lp.physical_address, lp.allocated_size);
    log.emplace(log_buf, lp.allocated_size);
    if (!log->write_header(banks).is_ok()) return refuse({TxtError::event_log, "event log container too small for its header"});
    // Event 0: what the processor measured at HASH_START (already in PCR17: logged, not extended).
    static const char kAcmText[] = "SINIT ACM";
    log_event(17, at::evtype::kHashStart, policy::hash_banks(banks, r.acm),
              std::span(reinterpret_cast<const uint8_t*>(kAcmText), sizeof kAcmText - 1));
  }
  for (const CpuState& ap : m.aps)
    if (ap.run != RunState::init_wait && !m.test_only_off.rlp_state)
      return refuse({TxtError::rlp_not_wfs, "RLP with APIC id " + std::to_string(ap.apic_id) + " is not in wait-for-SIPI"});

  std::vector<uint64_t> tables;
  if (auto f = walk_mle_tables(m, heap.os, r.mle_base, tables)) return refuse(*f);
  r.mle_size = heap.os.mle_size;
  at::AcmInfoTable info;
  std::memcpy(&info, r.acm.data() + at::kAcmUserAreaOffset, sizeof info);
  at::MleHeader hdr;
  if (auto f = check_mle_header(m, heap.os, r.mle_base, info.min_mle_header_ver, hdr)) return refuse(*f);
  if (auto f = check_pmrs(heap.os, r.mle_base, tables); f && !(m.test_only_off.pmr_coverage && f->e == TxtError::pmr_not_covering))
    return refuse(*f);
  r.mle_measured = m.mem.read(r.mle_base + hdr.mle_start, hdr.mle_end - hdr.mle_start);
  uint32_t policy_control = 0;
  if (auto f = check_lcp(m, heap.os, r.mle_measured, r, policy_control)) return refuse(*f);

  // SinitMleData (C.5), SHA-1 legacy digests.
  at::SinitMleData smd{};
  smd.version = at::kSinitMleDataVersion;
  smd.edx_senter_flags = static_cast<uint32_t>(m.cpu.rdx);
  std::memcpy(smd.sinit_hash, policy::hash(HashAlg::sha1, r.acm).bytes, 20);
  std::memcpy(smd.mle_hash, policy::hash(HashAlg::sha1, r.mle_measured).bytes, 20);
  if (!r.lcp_policy.empty()) std::memcpy(smd.lcp_policy_hash, policy::hash(HashAlg::sha1, r.lcp_policy).bytes, 20);
  smd.policy_control = policy_control;

  // PCR17/18 under the mapping the MLE chose (sinit_measure.hpp), each measurement logged as a TXT event.
  std::string mle_text = "MLE base=" + hex(r.mle_base) + " start=" + hex(hdr.mle_start) + " end=" + hex(hdr.mle_end);
  r.pcr_map = select_pcr_map(heap.os.capabilities, info.capabilities);
  SinitMeasurement in{r.acm, r.mle_measured, std::span(reinterpret_cast<const uint8_t*>(mle_text.data()), mle_text.size()),
                      r.lcp_policy, smd, heap.os.capabilities};
  r.details = sinit_measure(r.pcr_map, banks, in, [&](uint32_t pcr, const DigestList& d) { m.tpm.pcr_extend(pcr, d); }, log_event);
  if (log) {  // C.4 element 2_1: the MLE continues the log from next_record_offset
    uint32_t next = static_cast<uint32_t>(log->size());
    uint64_t ep = heap.os_sinit + sizeof(at::OsSinitData);
    // find the element again to update its next_record_offset (offset 8 + 16 in the element)
    for (;;) {
      at::HeapExtElement el;
      std::memcpy(&el, m.mem.map(ep, 8), 8);
      if (el.type == at::kHeapExtEventLogPointer2_1) {
        std::memcpy(m.mem.map(ep + 8 + 16, 4), &next, 4);
        break;
      }
      ep += el.size;
    }
  }
  uint64_t smd_size = 8 + sizeof smd;
  std::memcpy(m.mem.map(heap.sinit_mle, 8), &smd_size, 8);
  std::memcpy(m.mem.map(heap.sinit_mle + 8, sizeof smd), &smd, sizeof smd);

  // VT-d PMRs (VT-d §11.4.11-12) on the remapping unit, then enable protection (PMEN.EPM).
  auto mmio = [&](uint64_t off, unsigned size, uint64_t v) {
    if (!m.mmio || !m.mmio(at::kVtdBase + off, size, v)) ++r.pmr_writes_unclaimed;
  };
  const auto& os = heap.os;
  if (os.pmr_low_size) {
    mmio(at::kVtdPlmbase, 4, os.pmr_low_base);
    mmio(at::kVtdPlmlimit, 4, os.pmr_low_base + os.pmr_low_size - 1);
  }
  if (os.pmr_high_size) {
    mmio(at::kVtdPhmbase, 8, os.pmr_high_base);
    mmio(at::kVtdPhmlimit, 8, os.pmr_high_base + os.pmr_high_size - 1);
  }
  mmio(at::kVtdPmen, 4, at::kVtdPmenEpm);

  // MLE launch state (MLE DG §2.3 "MLE Initialization"): protected mode, paging off, flat CS/DS/SS/ES,
  // EBX = entry point (paging is off: linear = physical), ECX = the MLE page table base, IF = 0,
  // locality 2 open; TXT.STS.SENTER.DONE set.
  CpuState& c = m.cpu;
  c.cr0 = kCr0Pe | 0x10 | (1u << 5);  // PE, ET, NE
  c.cr3 = 0;
  c.cr4 = at::kCr4Smxe;
  c.efer = 0;
  c.rflags = 0x2;
  Segment code{0x08, 0, 0xFFFFFFFF, static_cast<uint16_t>(0xA | 0x10 | 0x80 | 0x400 | 0x800)};
  Segment data{0x10, 0, 0xFFFFFFFF, static_cast<uint16_t>(0x2 | 0x10 | 0x80 | 0x400 | 0x800)};
  c.cs = code;
  c.ds = c.es = c.ss = data;
  c.fs = c.gs = Segment{};
  c.cpl = 0;
  r.mle_entry = r.mle_base + hdr.entry_point;
  c.rbx = r.mle_entry;
  c.rcx = os.mle_page_table_base;
  c.rip = r.mle_entry;
  m.chipset.set_senter_done();
  m.tpm.set_locality(2);
}

}  // namespace redoubt::sim
