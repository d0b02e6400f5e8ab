// A TSS2 TCTI whose transmit runs the command in-process with libtpms
// (TPMLIB_Process). Debian's tpm2-tss ships no libtpms TCTI, hence this one.
//
// libtpms keeps the whole TPM in global state and its callbacks carry no user
// pointer, so there is at most ONE live LibtpmsTcti per process: opening a
// second while one is live throws TpmError. Close + reopen (also with another
// state directory) is fine. Not thread-safe: one caller at a time.
#pragma once
#include <tss2/tss2_tcti.h>

#include <cstdint>
#include <string>

namespace redoubt::tpm {

class LibtpmsTcti {
 public:
  // Claims the process-wide libtpms and starts it (ChooseTPMVersion(2),
  // RegisterCallbacks, MainInit). NV files live in state_dir (must exist); a
  // missing state makes the TPM manufacture itself.
  explicit LibtpmsTcti(const std::string& state_dir);
  ~LibtpmsTcti();  // TPMLIB_Terminate; releases the claim
  LibtpmsTcti(const LibtpmsTcti&) = delete;
  LibtpmsTcti& operator=(const LibtpmsTcti&) = delete;

  TSS2_TCTI_CONTEXT* context();

  // Platform reset: TPMLIB_Terminate + TPMLIB_MainInit (the next command must
  // be TPM2_Startup). Locality returns to 0.
  void reset();

  uint8_t locality() const;
  const std::string& state_dir() const { return state_dir_; }

  struct Ctx;  // the TCTI context (TSS2_TCTI_CONTEXT_COMMON_V2 first)

 private:
  void start();
  Ctx* ctx_;
  std::string state_dir_;
};

}  // namespace redoubt::tpm
