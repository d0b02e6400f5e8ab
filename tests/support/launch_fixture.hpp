// Test support shared by the launch, attack and CLI tests: temp dirs, keys,
// signed manifests, an in-process TPM with the counter provisioned, and hash
// helpers (OpenSSL) used to compute expected PCR values independently.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "platform/fake/launch.hpp"
#include "tpm/tpm_device.hpp"
#include "policy/host/hv_manifest_build.hpp"
#include "policy/host/keys.hpp"

namespace redoubt::test {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const fs::path& path() const { return p_; }
  fs::path operator/(const std::string& s) const { return p_ / s; }

 private:
  fs::path p_;
};

fs::path build_dir();   // $REDOUBT_BUILD_DIR (set by ctest)
fs::path source_dir();  // $REDOUBT_SOURCE_DIR
Bytes read_file(const fs::path& p);
void write_file(const fs::path& p, const Bytes& b);

// OpenSSL digests, independent of the code under test.
Bytes sha(const char* alg, const Bytes& data);  // "SHA1", "SHA256", "SHA384", "SHA512"
Bytes sha(const char* alg, const std::string& s);
Bytes extend(const char* alg, const Bytes& pcr, const Bytes& digest);  // H(pcr || digest)
Bytes zeros(size_t n);
Bytes ones(size_t n);
std::string hex(const Bytes& b);

// A complete, valid set of launch inputs signed by a fresh P-256 key.
struct LaunchKit {
  TempDir dir;
  policy::EvpKey key;
  policy::PublicKey pub;
  Bytes sl_sealed;   // build/sl.bin with `pub` sealed in
  Bytes hv_image;    // build/hv.bin
  Bytes sl_stage2;   // build/sl2.bin (pinned by sl.bin)
  Bytes manifest;    // COSE_Sign1 over the image, version 1.2.3, SVN 2
  Bytes payload;     // the manifest's CBOR payload (deterministic)
  policy::HvManifestInput input;

  LaunchKit();
  sim::LaunchInputs inputs() const;
  Bytes sign(const Bytes& image, uint64_t svn, const policy::EvpKey& k) const;
};

// An in-process TPM on a fresh state dir with the hypervisor counter defined.
std::unique_ptr<tpm::TpmDevice> fresh_inproc_tpm(const fs::path& state);

// sha256 PCR value read back from the TPM.
Bytes read_pcr(tpm::TpmDevice& tpm, HashAlg alg, uint32_t pcr);

}  // namespace redoubt::test
