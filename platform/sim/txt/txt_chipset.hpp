// The simulated TXT chipset: its fuses (the ACM signing key's hash, the SINIT revocation floor, the
// device id) and the TXT configuration registers of the MLE DG Appendix B that GETSEC[SENTER] and
// SINIT use. Public space (0xFED30000) reads the same registers as private space (0xFED20000) but
// ignores writes (B.1: "public space is read-only").
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "arch/intel/sinit_errors.hpp"
#include "arch/intel/txt_regs.hpp"

namespace redoubt::sim {

struct TxtFuses {
  std::array<uint8_t, 32> acm_key_hash{};  // SHA-256 of the chipset ACM key (policy::acm_key_hash)
  uint16_t sinit_svn_floor = 0;            // revocation: an ACM whose TXT SVN is below is refused
  uint16_t device_id = 0xB005;             // TXT.DIDVID[31:16]; the ACM header's chipset id must match
  uint16_t vendor_id = 0x8086;
};

class TxtChipset {
 public:
  explicit TxtChipset(const TxtFuses& f = {}) : fuses_(f) {}
  const TxtFuses& fuses() const { return fuses_; }
  TxtFuses& fuses() { return fuses_; }

  // Register access at an offset of either space (8-byte registers; unknown offsets read 0).
  uint64_t read(uint64_t offset) const;
  void write(uint64_t offset, uint64_t value, bool private_space);

  // Set by the processor or SINIT: the error code, TXT.ESTS.TXT_RESET_STS ("TXT shutdown").
  void shutdown(arch::txt::TxtError e);
  arch::txt::TxtError last_error() const { return last_error_; }
  bool senter_done() const { return sts_ & arch::txt::sts::kSenterDone; }
  void set_senter_done();

  // The authenticated-code RAM the processor loads the ACM into (SDM: "AC RAM").
  std::vector<uint8_t>& ac_ram() { return ac_ram_; }
  static constexpr uint64_t kAcRamSize = 256 * 1024;

  uint64_t heap_base = 0, heap_size = 0, sinit_base = 0, sinit_size = 0;

 private:
  TxtFuses fuses_;
  uint64_t sts_ = 0, ests_ = 0, spad_ = 0;
  uint32_t errorcode_ = 0;
  arch::txt::TxtError last_error_ = arch::txt::TxtError::none;
  std::vector<uint8_t> ac_ram_;
};

}  // namespace redoubt::sim
