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
  // Writes made by no CPU (the loader through write(), DMA, a reset's scrub) are counted, so
  // a CPU's VMRUN can tell whether memory changed behind its back since it last looked and
  // only then revalidate its decoded code. Whoever writes through map() outside a CPU calls
  // note_external_write().
  void note_external_write() { ++external_writes_; }
  uint64_t external_writes() const { return external_writes_; }

 private:
  uint64_t external_writes_ = 0;
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace redoubt::sim
