#include "platform/sim/cpu/tlb.hpp"

namespace redoubt::sim::cpu {

std::optional<TlbEntry> Tlb::lookup(uint32_t asid, uint64_t va) const {
  for (unsigned shift : {12u, 21u, 30u}) {
    auto it = map_.find(key(asid, va, shift));
    if (it != map_.end() && it->second.asid == asid && ((it->second.va ^ va) >> shift) == 0 &&
        it->second.e.size_shift == shift)
      return it->second.e;
  }
  return std::nullopt;
}

void Tlb::insert(uint32_t asid, uint64_t va, const TlbEntry& e) {
  uint64_t base = va & ~((1ull << e.size_shift) - 1);
  map_[key(asid, va, e.size_shift)] = Slot{asid, base, e};
}

void Tlb::flush_all() { map_.clear(); }

void Tlb::flush_all_but(uint32_t asid) {
  for (auto it = map_.begin(); it != map_.end();) {
    if (it->second.asid != asid)
      it = map_.erase(it);
    else
      ++it;
  }
}

void Tlb::flush_asid(uint32_t asid, bool keep_global) {
  for (auto it = map_.begin(); it != map_.end();) {
    if (it->second.asid == asid && !(keep_global && it->second.e.global))
      it = map_.erase(it);
    else
      ++it;
  }
}

void Tlb::flush_va(uint32_t asid, uint64_t va) {
  for (unsigned shift : {12u, 21u, 30u}) map_.erase(key(asid, va, shift));
}

}  // namespace redoubt::sim::cpu
