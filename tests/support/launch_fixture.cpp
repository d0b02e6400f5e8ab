#include "tests/support/launch_fixture.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>

#include "policy/fs/pcr_map.hpp"
#include "abi/slb_layout.hpp"

namespace redoubt::test {

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "redoubt-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  p_ = tmpl;
}
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(p_, ec);
}

fs::path build_dir() {
  const char* e = std::getenv("REDOUBT_BUILD_DIR");
  if (!e) throw std::runtime_error("REDOUBT_BUILD_DIR is not set (run the tests through ctest)");
  return e;
}
fs::path source_dir() {
  const char* e = std::getenv("REDOUBT_SOURCE_DIR");
  if (!e) throw std::runtime_error("REDOUBT_SOURCE_DIR is not set (run the tests through ctest)");
  return e;
}

Bytes read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
void write_file(const fs::path& p, const Bytes& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

Bytes sha(const char* alg, const Bytes& data) {
  const EVP_MD* md = EVP_get_digestbyname(alg);
  if (!md) throw std::runtime_error(std::string("unknown digest ") + alg);
  Bytes out(EVP_MD_get_size(md));
  unsigned n = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &n, md, nullptr);
  return out;
}
Bytes sha(const char* alg, const std::string& s) { return sha(alg, Bytes(s.begin(), s.end())); }
Bytes extend(const char* alg, const Bytes& pcr, const Bytes& digest) {
  Bytes cat = pcr;
  cat.insert(cat.end(), digest.begin(), digest.end());
  return sha(alg, cat);
}
Bytes zeros(size_t n) { return Bytes(n, 0); }
Bytes ones(size_t n) { return Bytes(n, 0xFF); }
std::string hex(const Bytes& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

LaunchKit::LaunchKit() {
  key = policy::generate_key("P-256");
  pub = policy::cose_public_key(key);
  sl_sealed = read_file(build_dir() / "sl.bin");
  // Seal by hand (offsets from the documented layout) rather than through the tool.
  uint16_t slot_off;
  std::memcpy(&slot_off, sl_sealed.data() + offsetof(sl::SlbHeader, key_slot_offset), 2);
  sl::SlbKeySlot slot{};
  std::memcpy(slot.magic, sl::kKeySlotMagic, 8);
  slot.cose_alg = static_cast<int32_t>(pub.alg);
  slot.sec1_len = static_cast<uint16_t>(pub.sec1_len);
  std::memcpy(slot.sec1, pub.sec1, pub.sec1_len);
  std::memcpy(sl_sealed.data() + slot_off, &slot, sizeof slot);
  hv_image = read_file(build_dir() / "hv.bin");
  sl_stage2 = read_file(build_dir() / "sl2.bin");
  input.version = "1.2.3";
  input.svn = 2;
  payload = policy::build_hv_manifest_payload(hv_image, input, key);
  manifest = policy::sign_hv_manifest(hv_image, input, key);
}

Bytes LaunchKit::sign(const Bytes& image, uint64_t svn, const policy::EvpKey& k) const {
  policy::HvManifestInput in = input;
  in.svn = svn;
  return policy::sign_hv_manifest(image, in, k);
}

sim::LaunchInputs LaunchKit::inputs() const {
  sim::LaunchInputs in;
  in.sl_image = sl_sealed;
  in.hv_image = hv_image;
  in.sl_stage2 = sl_stage2;
  in.manifest = manifest;
  return in;
}

std::unique_ptr<tpm::TpmDevice> fresh_inproc_tpm(const fs::path& state) {
  tpm::TpmSpec spec;
  spec.kind = tpm::TpmSpec::Kind::inproc;
  spec.state_dir = state.string();
  fs::create_directories(state);
  auto tpm = tpm::open_tpm(spec);
  tpm->set_locality(0);
  if (!tpm->nv_read_counter(policy::kNvHvSvnCounter)) tpm->nv_define_counter(policy::kNvHvSvnCounter);
  return tpm;
}

Bytes read_pcr(tpm::TpmDevice& tpm, HashAlg alg, uint32_t pcr) {
  tpm.set_locality(0);
  auto v = tpm.pcr_read({pcr});
  return v.at(alg).at(pcr);
}

}  // namespace redoubt::test
