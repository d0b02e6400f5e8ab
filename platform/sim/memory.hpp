// Simulated physical memory: every CPU and device access goes through it, so
// DMA protection and scrubbing act on real bytes.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace redoubt::sim {

class PhysicalMemory {
 public:
  static constexpr uint64_t kPageSize = 4096;
  explicit PhysicalMemory(uint64_t bytes);  // rounded up to whole pages

  uint64_t size() const { return bytes_.size(); }
  bool contains(uint64_t pa, uint64_t n) const { return pa <= size() && n <= size() - pa; }
  // nullptr when any byte of [pa, pa+n) is outside RAM.
  uint8_t* map(uint64_t pa, uint64_t n);
  // Throws std::out_of_range naming the address when outside RAM.
  void write(uint64_t pa, std::span<const uint8_t> data);
  std::vector<uint8_t> read(uint64_t pa, uint64_t n) const;

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace redoubt::sim
