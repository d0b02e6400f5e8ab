// The HAL the trusted-code fuzzers run sl/ and hypervisor/ against: RAM is an
// anonymous mapping (untouched pages cost nothing), DMA protection is a list of
// protected ranges, and the TPM records each extend and checks the locality rules
// instead of hashing into libtpms (fuzz_sl_boot_params, fuzz_guest_admission,
// fuzz_hypercall). The TPM is not what these targets test, and a real one costs
// milliseconds per input; the unit and attack tests run the same code on libtpms.
#pragma once
#include <sys/mman.h>

#include <cstdarg>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "platform/hal/hal.hpp"
#include "abi/handoff.hpp"

namespace fuzz_hal {

using namespace redoubt;

struct Extend {
  uint8_t locality;
  uint32_t pcr;
};

class FuzzPlatform : public hal::Platform, public hal::Console, public hal::Tpm, public hal::PhysMem, public hal::DmaProtection {
 public:
  explicit FuzzPlatform(uint64_t ram_bytes) : size_(ram_bytes) {
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) std::abort();
    ram_ = static_cast<uint8_t*>(p);
  }
  ~FuzzPlatform() { munmap(ram_, size_); }

  void reset() {
    protected_.clear();
    extends.clear();
    entered = false;
  }

  hal::Console& console() override { return *this; }
  hal::Tpm& tpm() override { return *this; }
  hal::PhysMem& mem() override { return *this; }
  hal::DmaProtection& dma() override { return *this; }
  hal::Svm& svm() override {
    if (!svm_) std::abort();
    return *svm_;
  }
  void set_svm(hal::Svm* s) { svm_ = s; }
  Status enter_hypervisor(hal::HypervisorHandoff& h) override {
    entered = true;
    handoff = h;
    return Status::ok();
  }
  [[noreturn]] void halt(const char*) override { std::abort(); }  // the SL/hypervisor never halt in the native build

  // Console: every line is formatted (the format code runs), then dropped.
  void write(const char*, size_t) override {}

  // TPM: the rules of TCG PC Client PTP §6 / docs/pcr-map.md as the trusted code must keep them.
  Status active_banks(BankList& out) override {
    out = BankList{};
    out.alg[out.count++] = HashAlg::sha256;
    out.alg[out.count++] = HashAlg::sha384;
    return Status::ok();
  }
  Status pcr_extend(uint8_t locality, uint32_t pcr, const DigestList& d) override {
    if (locality != 2 || pcr < 17 || pcr > 20 || d.count != 2) std::abort();  // the DLME extends 17-20 at locality 2, every bank
    extends.push_back({locality, pcr});
    return Status::ok();
  }
  Status nv_read_counter(uint8_t, uint32_t nv_index, uint64_t& value) override {
    if (nv_missing) return Status::fail(Err::not_found, "NV index 0x%08x is not defined", nv_index);
    value = nv_value;
    return Status::ok();
  }

  // Harness code, not under test: no coverage callbacks (the page-table builders call it
  // thousands of times per input).
  __attribute__((no_sanitize("coverage"))) uint8_t* map(uint64_t pa, uint64_t n) override { return pa <= size_ && n <= size_ - pa ? ram_ + pa : nullptr; }
  // The hypervisor clears and scrubs megabytes per input (guest RAM at load and teardown,
  // its own memory at the end); a memset of every byte was most of fuzz_hypercall's time.
  // The whole pages inside go back to the host instead: a private anonymous page reads as
  // zero afterwards (madvise(2) MADV_DONTNEED), and only the pages an input touches again
  // cost anything. The edges are cleared byte by byte.
  bool zero(uint64_t pa, uint64_t n) override {
    uint8_t* m = map(pa, n);
    if (!m) return false;
    if (pa >= in_place_pa_ && pa + n <= in_place_pa_ + in_place_n_) {  // see clear_in_place
      std::memset(m, 0, n);
      return true;
    }
    const uint64_t lo = (pa + 0xFFF) & ~0xFFFull, hi = (pa + n) & ~0xFFFull;
    if (hi <= lo) {
      std::memset(m, 0, n);
      return true;
    }
    std::memset(m, 0, lo - pa);
    if (madvise(ram_ + lo, hi - lo, MADV_DONTNEED) != 0) std::abort();
    std::memset(ram_ + hi, 0, pa + n - hi);
    return true;
  }

  // zero() inside [pa, pa+n) clears the bytes in place instead of giving the pages back.
  // For memory the code under test re-touches on every input (the hypervisor's own pages:
  // its page allocator clears every page it hands out with a plain memset), giving the
  // pages back only makes the next input page-fault each of them in again, which cost more
  // than the clearing itself (docs/fuzzing.md, fifth campaign). Either way every byte
  // reads as zero afterwards.
  void clear_in_place(uint64_t pa, uint64_t n) {
    in_place_pa_ = pa;
    in_place_n_ = n;
  }

  Status protect(uint64_t pa, uint64_t n) override {
    if (!map(pa, n)) return Status::fail(Err::malformed, "DEV: [0x%llx, +0x%llx) is outside RAM", (unsigned long long)pa, (unsigned long long)n);
    protected_.push_back({pa, n});
    return Status::ok();
  }
  bool is_protected(uint64_t pa, uint64_t n) override {
    // Covered by the union of the protected ranges (page granular as DEV, APM vol. 2 §15.24).
    uint64_t at = pa & ~0xFFFull;
    const uint64_t end = pa + n;
    if (end < pa) return false;
    while (at < end) {
      bool hit = false;
      for (const auto& [b, s] : protected_)
        if (at >= (b & ~0xFFFull) && at < b + s) {
          at = ((b + s + 0xFFF) & ~0xFFFull);
          hit = true;
          break;
        }
      if (!hit) return false;
    }
    return true;
  }

  uint8_t* ram() { return ram_; }
  uint64_t size() const { return size_; }

  std::vector<Extend> extends;
  bool entered = false;
  hal::HypervisorHandoff handoff{};
  bool nv_missing = true;
  uint64_t nv_value = 0;

 private:
  uint8_t* ram_;
  uint64_t size_;
  hal::Svm* svm_ = nullptr;
  uint64_t in_place_pa_ = 0, in_place_n_ = 0;  // clear_in_place (none by default)
  std::vector<std::pair<uint64_t, uint64_t>> protected_;
};

}  // namespace fuzz_hal
