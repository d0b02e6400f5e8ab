// What the DMA scenarios of both vendors share (tools/attacks/dma.cpp on AMD-Vi + DEV,
// dma_intel.cpp on VT-d + PMRs): a bus master aimed at targets with verdicts resting on SHA-256
// computed here before and after, and the shots fired into a hypervisor's DMA-protection hand-off.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "abi/dma_engine.hpp"
#include "platform/sim/devices/dma_engine.hpp"
#include "platform/sim/full_system.hpp"
#include "tools/attacks/harness.hpp"

namespace redoubt::tools::attacks::dma {

namespace e = abi::dma_engine;

inline std::string sha_at(sim::FullSystem& s, uint64_t pa, uint64_t n) { return sha256_hex(s.machine().mem().read(pa, n)); }

struct Target {
  std::string what;
  uint64_t pa = 0, n = 4096;
  bool write = true;  // false: read only (with the protection off a write there would crash the hypervisor)
};

// The engine reads each target into its buffer and fills it; every access must fault at
// `blocker`, the buffer must not hold the target's bytes, and the target must not change.
inline void attack(sim::FullSystem& s, sim::DmaEngine& eng, const std::vector<Target>& targets, uint32_t blocker,
                   const std::string& blocker_name, Checks& k) {
  for (const Target& t : targets) {
    const uint32_t len = uint32_t(std::min<uint64_t>(t.n, e::kBufferSize));
    const std::string before = sha_at(s, t.pa, len);
    std::fill(eng.buffer().begin(), eng.buffer().end(), uint8_t(0));
    const uint32_t rs = eng.run(e::kOpRead, t.pa, 0, len);
    const uint32_t rinfo = eng.fault_info();
    const std::string got = sha256_hex(eng.buffer().data(), len);
    uint32_t ws = e::kFault, winfo = rinfo | e::kInfoWrite;
    if (t.write) {
      ws = eng.run(e::kOpFill, 0, t.pa, len, 0x4141414141414141ull);
      winfo = eng.fault_info();
    }
    k.need(rs == e::kFault && ((rinfo >> 8) & 0xFF) == blocker,
           t.what + ": the read was not stopped by " + blocker_name + " (status " + std::to_string(rs) + ", fault info " + hex(rinfo) + ")");
    if (t.write)
      k.need(ws == e::kFault && ((winfo >> 8) & 0xFF) == blocker,
             t.what + ": the write was not stopped by " + blocker_name + " (status " + std::to_string(ws) + ", fault info " + hex(winfo) + ")");
    k.leak(got == before && before != sha256_hex(Bytes(len, 0)), t.what + ": its bytes arrived in the engine's buffer");
    k.leak(sha_at(s, t.pa, len) != before, t.what + ": changed by the engine");
  }
  k.evidence()["targets"] = targets.size();
}

// A DMA read of the hypervisor image and a fill of spare hypervisor memory by engine 2 (01:00.0),
// fired at every IOMMU register write of the hand-off; `read`/`wrote` say whether one landed.
struct HandoffShots {
  uint64_t image = 0, spare = 0;
  int shots = 0;
  bool read = false, wrote = false;
  std::string image_sha;

  void fire(sim::FullSystem& sys) {
    if (shots++ == 0) image_sha = sha_at(sys, image, 4096);
    sim::DmaEngine& eng = sys.dma_engine(2);
    std::fill(eng.buffer().begin(), eng.buffer().end(), uint8_t(0));
    if (eng.run(e::kOpRead, image, 0, 4096) == e::kDone && sha256_hex(eng.buffer().data(), 4096) == image_sha) read = true;
    if (eng.run(e::kOpFill, 0, spare, 4096, 0x5A5A5A5A5A5A5A5Aull) == e::kDone) wrote = true;
  }

  // `min_shots`: the register writes the hypervisor's take-over makes (fewer: the shots missed it).
  void report(Checks& k, int min_shots, const std::string& iommu) const {
    k.need(shots >= min_shots, "only " + std::to_string(shots) + " " + iommu + " register writes by the hypervisor were seen");
    k.evidence()["shots"] = shots;
    k.leak(read, "the hypervisor image was read by DMA during the hand-off");
    k.leak(wrote, "hypervisor memory was written by DMA during the hand-off");
  }
};

}  // namespace redoubt::tools::attacks::dma
