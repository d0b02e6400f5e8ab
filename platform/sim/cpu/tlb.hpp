// The architectural, ASID-tagged TLB (APM vol. 2 §15.16): caches complete
// translations (guest-virtual -> host-physical with nested paging). Entries of
// one ASID survive world switches; TLB_CONTROL and INVLPGA flush them.
// Capacity is unbounded (a research model: hit/miss counts then depend only on
// flushes, not on a replacement policy).
#pragma once
#include <cstdint>
#include <optional>
#include <unordered_map>

namespace redoubt::sim::cpu {

struct TlbEntry {
  uint64_t pa_page = 0;  // host-physical base of the (combined) page
  uint8_t size_shift = 12;  // 12, 21 or 30
  bool writable = false, user = false, nx = false, dirty = false, global = false;
  bool host_writable = true;  // nested (NPT) permission: all nested accesses are user accesses
};

class Tlb {
 public:
  std::optional<TlbEntry> lookup(uint32_t asid, uint64_t va) const;
  void insert(uint32_t asid, uint64_t va, const TlbEntry& e);
  void flush_all();
  void flush_all_but(uint32_t asid);  // every tag except one (INVVPID all-context keeps VPID 0)
  void flush_asid(uint32_t asid, bool keep_global);
  void flush_va(uint32_t asid, uint64_t va);  // INVLPG / INVLPGA: every size covering va
  size_t size() const { return map_.size(); }

 private:
  static uint64_t key(uint32_t asid, uint64_t va, unsigned shift) {
    return (uint64_t(asid) << 44) ^ (uint64_t(shift) << 36) ^ ((va & 0xFFFFFFFFFFFFull) >> shift);
  }
  struct Slot { uint32_t asid; uint64_t va; TlbEntry e; };
  std::unordered_map<uint64_t, Slot> map_;
};

}  // namespace redoubt::sim::cpu
