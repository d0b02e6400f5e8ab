// Research counters of the simulated CPU: exact, deterministic, public.
#pragma once
#include <cstdint>
#include <map>

namespace redoubt::sim::cpu {

struct AsidCounters {
  uint64_t tlb_hits = 0;      // translations served by the ASID-tagged TLB (no walk)
  uint64_t tlb_misses = 0;    // translations that needed a page walk
  uint64_t instructions = 0;  // instructions retired while this ASID ran (host = ASID 0)
};

struct Counters {
  // Page walks. A "walk" is one TLB miss resolved by walking the tables; with
  // nested paging it is the full 2-D walk (every guest table read translated
  // through nCR3 plus the final guest-physical address).
  uint64_t walks = 0;
  uint64_t walk_refs = 0;          // page-table entries read by all walks (guest + nested)
  uint64_t last_walk_refs = 0;     // references of the most recent walk
  uint64_t nested_walk_refs = 0;   // of walk_refs, the nested-table reads
  std::map<uint32_t, AsidCounters> per_asid;
  std::map<uint64_t, uint64_t> exits;  // #VMEXIT count by EXITCODE
  uint64_t vmruns = 0;
  uint64_t blocks_decoded = 0;     // decoded-block cache fills
  uint64_t blocks_invalidated = 0; // dropped because their code page was written
  uint64_t events_delivered = 0;   // exceptions/interrupts delivered through the guest IDT
  uint64_t soft_tlb_fills = 0;     // refills of the per-page fast path in front of the TLB (Cpu::select_context)
  uint64_t blocks_translated = 0;  // blocks translated to host code (jit.cpp)
  uint64_t jit_native_ops = 0;     // of their instructions, translated inline
  uint64_t jit_helper_ops = 0;     // ... and run by a call to the interpreter's handler
  uint64_t jit_resets = 0;         // code arena full: every translation dropped
};

}  // namespace redoubt::sim::cpu
