#include "platform/sim/txt/txt_layout.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "arch/intel/mle.hpp"
#include "abi/boot_params.hpp"
#include "arch/intel/txt_heap.hpp"

namespace redoubt::sim {

namespace at = arch::txt;

namespace {

template <class T>
void put(std::vector<uint8_t>& b, size_t off, const T& v) {
  if (b.size() < off + sizeof v) b.resize(off + sizeof v);
  std::memcpy(b.data() + off, &v, sizeof v);
}

}  // namespace

std::string lay_out_txt(Machine& m, TxtChipset& chipset, const TxtLaunchInputs& in, uint64_t mle_base,
                        uint64_t mle_size, std::span<const uint8_t> mle_image, uint64_t os_mle_boot_params) {
  const TxtLayout& L = in.layout;
  if (in.acm.empty() || in.acm.size() > TxtChipset::kAcRamSize) return "no SINIT ACM, or larger than AC RAM";
  if (mle_size % 4096 || mle_size > (2ull << 20)) return "MLE size must be whole pages, at most 2 MiB (one page table)";
  uint64_t hdr_off = UINT64_MAX;
  for (uint64_t o = 0; o + 16 <= std::min<size_t>(mle_image.size(), 4096); o += 4)
    if (std::memcmp(mle_image.data() + o, at::kMleHeaderUuid, 16) == 0) {
      hdr_off = o;
      break;
    }
  if (hdr_off == UINT64_MAX) return "the MLE image has no MLE header (GUID) in its first 4 KiB";
  m.mem().write(L.acm, in.acm);
  // MLE DG §2.2: PAE-format tables mapping linear [0, mle_size) to the MLE's pages.
  std::vector<uint8_t> pdpt(4096), pd(4096), pt(4096);
  put(pdpt, 0, uint64_t{(L.mle_tables + 0x1000) | 1});
  put(pd, 0, uint64_t{(L.mle_tables + 0x2000) | 3});
  for (uint64_t i = 0; i < mle_size / 4096; ++i) put(pt, i * 8, uint64_t{(mle_base + i * 4096) | 3});
  m.mem().write(L.mle_tables, pdpt);
  m.mem().write(L.mle_tables + 0x1000, pd);
  m.mem().write(L.mle_tables + 0x2000, pt);
  at::OsSinitData os{};
  os.version = at::kOsSinitDataVersion;
  os.mle_page_table_base = L.mle_tables;
  os.mle_size = mle_size;
  os.mle_header_base = hdr_off;
  os.pmr_low_base = L.pmr_low_base;
  os.pmr_low_size = L.pmr_low_size;
  os.capabilities = at::mle_caps::kTcg2EventLog | (in.legacy_pcr_map ? 0 : at::mle_caps::kPcrMapDa);
  if (!in.lcp_policy.empty()) {
    m.mem().write(L.lcp, in.lcp_policy);
    os.lcp_po_base = L.lcp;
    os.lcp_po_size = in.lcp_policy.size();
  }
  // App. C: size-prefixed BiosData, OsMleData, OsSinitData (+ log pointer, END), then SinitMleData's room.
  std::vector<uint8_t> heap;
  at::BiosData bd{};
  bd.version = 5;
  bd.num_log_procs = 1 + static_cast<uint32_t>(m.aps().size());
  put(heap, 0, uint64_t{8 + sizeof bd});
  put(heap, 8, bd);
  size_t o = heap.size();
  put(heap, o, uint64_t{8 + sizeof(at::OsMleData)});
  put(heap, o + 8, at::OsMleData{1, 0, os_mle_boot_params});
  o = heap.size();
  put(heap, o, uint64_t{8 + sizeof os + 32 + 8});
  put(heap, o + 8, os);
  size_t e = o + 8 + sizeof os;
  put(heap, e, at::HeapExtElement{at::kHeapExtEventLogPointer2_1, 32});
  // The log container: the boot params' event log (the SL continues it; BootParams::txt_log), or L.log.
  sl::BootParams bp{};
  if (!m.mem().contains(os_mle_boot_params, sizeof bp)) return "the boot params are not in RAM";
  std::memcpy(&bp, m.mem().map(os_mle_boot_params, sizeof bp), sizeof bp);
  uint64_t log_pa = L.log ? L.log : bp.event_log.pa, log_size = L.log ? L.log_size : bp.event_log.size;
  put(heap, e + 8, at::EventLogPointer2_1{log_pa, static_cast<uint32_t>(log_size), 0, 0});
  if (!L.log) {
    bp.txt_log = {L.heap + e + 8, 24};
    std::memcpy(m.mem().map(os_mle_boot_params, sizeof bp), &bp, sizeof bp);
  }
  put(heap, e + 32, at::HeapExtElement{at::kHeapExtEnd, 8});
  if (heap.size() + 8 + sizeof(at::SinitMleData) > L.heap_size) return "TXT heap too small";
  heap.resize(L.heap_size);
  m.mem().write(L.heap, heap);
  chipset.write(at::kHeapBase, L.heap, true);
  chipset.write(at::kHeapSize, L.heap_size, true);
  chipset.write(at::kSinitBase, L.acm, true);
  chipset.write(at::kSinitSize, in.acm.size(), true);
  // GETSEC[SENTER] operands (SDM vol. 2D): EBX = SINIT base, ECX = its size, EDX = 0; SMX on.
  CpuState& b = m.bsp();
  b.bsp = true;
  b.cr4 |= at::kCr4Smxe;
  b.cr0 |= 1u << 5;  // CR0.NE (SENTER #GPs without it)
  b.rbx = L.acm;
  b.rcx = in.acm.size();
  b.rdx = 0;
  return "";
}

uint64_t txt_log_element(const TxtLayout& L) {
  return L.heap + (8 + sizeof(at::BiosData)) + (8 + sizeof(at::OsMleData)) + 8 + sizeof(at::OsSinitData) + 8;
}

std::vector<uint8_t> sinit_log(Machine& m, const TxtLayout& L) {
  at::EventLogPointer2_1 lp{};
  const uint8_t* p = m.mem().map(txt_log_element(L), 20);
  if (!p) return {};
  std::memcpy(&lp, p, 20);
  if (lp.next_record_offset > lp.allocated_size || !m.mem().contains(lp.physical_address, lp.next_record_offset)) return {};
  return m.mem().read(lp.physical_address, lp.next_record_offset);
}

}  // namespace redoubt::sim
