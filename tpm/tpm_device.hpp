// A real TPM 2.0 reached through tpm2-tss ESAPI: libtpms in-process, swtpm, or
// a kernel device. Hosted code (exceptions allowed): every failure throws
// TpmError whose message names the command, the locality and the TPM_RC.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "platform/hal/digest.hpp"

struct ESYS_CONTEXT;

namespace redoubt::tpm {

class TpmError : public std::runtime_error {
 public:
  TpmError(const std::string& what, uint32_t rc = 0) : std::runtime_error(what), rc_(rc) {}
  uint32_t rc() const { return rc_; }  // TSS2_RC / TPM_RC (0 if not a TPM response)
 private:
  uint32_t rc_;
};

// Parsed --tpm spec: "inproc", "swtpm" (spawn a private one), "swtpm:host=H,port=P"
// (ctrl channel at port+1 unless ctrl=C is given), "device:/dev/tpmrm0".
struct TpmSpec {
  enum class Kind { inproc, swtpm_spawn, swtpm_connect, device } kind = Kind::inproc;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  uint16_t ctrl_port = 0;
  std::string device_path;
  std::string state_dir;  // inproc: NV state files; swtpm_spawn: --tpmstate dir
  std::string setup_config;  // swtpm_spawn: swtpm_setup --config file, run once on a fresh state dir
  static TpmSpec parse(const std::string& spec);  // throws std::invalid_argument naming the problem
  std::string describe() const;
};

class TpmDevice {
 public:
  virtual ~TpmDevice();

  // "Power on": platform reset + TPM2_Startup(CLEAR). PCR17/18 then read all-ones
  // until a DRTM sequence (TCG PC Client PTP / PFP §2.3.4). Not possible on a device.
  virtual void power_on() = 0;

  // DRTM sequence at locality 4 (_TPM_Hash_Start/_Data/_End, TPM 2.0 Part 3 §35?
  // "Hash Sequence"): resets PCR17-22 and extends H(data) into PCR17 in every bank.
  // The caller must not hold transient objects (Hash_Start may evict one).
  virtual void drtm_hash(const uint8_t* data, size_t n) = 0;
  virtual bool supports_drtm() const = 0;

  // Locality for subsequent commands (0..4).
  virtual void set_locality(uint8_t locality) = 0;
  uint8_t locality() const { return locality_; }

  virtual std::string describe() const = 0;

  ESYS_CONTEXT* esys() { return esys_; }

  // --- ESAPI helpers (implemented once in tpm_device.cpp over esys()) ---
  BankList active_banks();
  void pcr_extend(uint32_t pcr, const DigestList& digests);  // at the current locality
  // Reads the given PCRs in every active bank: bank -> pcr -> digest bytes.
  std::map<HashAlg, std::map<uint32_t, std::vector<uint8_t>>> pcr_read(const std::vector<uint32_t>& pcrs);
  // NV counter (TPM_NT_COUNTER, owner auth = empty, read/write with owner or auth).
  bool nv_defined(uint32_t index);
  void nv_define_counter(uint32_t index);   // defines and increments once (so it is readable)
  std::optional<uint64_t> nv_read_counter(uint32_t index);  // nullopt if undefined/unwritten
  void nv_increment(uint32_t index);
  std::vector<uint8_t> get_random(size_t n);

  // One raw TPM 2.0 command at `locality` through the ESYS context's TCTI
  // (Esys_GetTcti, Tss2_Tcti_SetLocality, Tss2_Tcti_Transmit/Receive): the bytes
  // a TPM interface (the simulated TIS FIFO) hands over on tpmGo. Returns the
  // response bytes whatever its TPM_RC; throws TpmError only when the transport
  // fails or the command is not a well-formed 10-byte-header frame. The TPM's
  // locality afterwards is what it was before.
  std::vector<uint8_t> transmit(uint8_t locality, std::span<const uint8_t> command);

 protected:
  ESYS_CONTEXT* esys_ = nullptr;
  uint8_t locality_ = 0;
};

// Opens the TPM named by spec (spawning swtpm if asked). The returned device
// is powered on (Startup CLEAR done).
std::unique_ptr<TpmDevice> open_tpm(const TpmSpec& spec);

}  // namespace redoubt::tpm
