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
  // Rounded up to whole pages. RAM is an anonymous mapping: pages cost nothing
  // (and read as zero) until first touched, so a 4 GiB machine starts as fast as
  // a 256 MiB one. Throws std::runtime_error if the host cannot reserve it.
  explicit PhysicalMemory(uint64_t bytes);
  ~PhysicalMemory();
  PhysicalMemory(const PhysicalMemory&) = delete;
  PhysicalMemory& operator=(const PhysicalMemory&) = delete;

  uint64_t size() const { return size_; }
  bool contains(uint64_t pa, uint64_t n) const { return pa <= size() && n <= size() - pa; }
  // nullptr when any byte of [pa, pa+n) is outside RAM.
  uint8_t* map(uint64_t pa, uint64_t n);
  // Throws std::out_of_range naming the address when outside RAM.
  void write(uint64_t pa, std::span<const uint8_t> data);
  std::vector<uint8_t> read(uint64_t pa, uint64_t n) const;

 private:
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace redoubt::sim
