// Writes seed corpora for the fuzzers from valid inputs: fuzz_seeds <outdir>
// creates <outdir>/{cbor,cose_manifest,eventlog}/.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <vector>

#include "policy/fs/eventlog.hpp"
#include "policy/fs/hash.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/cbor_write.hpp"
#include "policy/host/hv_manifest_build.hpp"

using namespace redoubt;
using namespace redoubt::policy;
using Bytes = std::vector<uint8_t>;
namespace fs = std::filesystem;

static void put(const fs::path& dir, const std::string& name, const Bytes& b) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

static Bytes prefixed(uint8_t first, const Bytes& b) {
  Bytes out{first};
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds OUTDIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  Bytes image(3000);
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<uint8_t>(i);
  int n = 0;
  for (const char* curve : {"P-256", "P-384"}) {
    EvpKey key = generate_key(curve);
    HvManifestInput in;
    in.version = "1.0.0";
    in.svn = 5;
    in.digest_alg = std::string(curve) == "P-256" ? HashAlg::sha256 : HashAlg::sha384;
    const Bytes payload = build_hv_manifest_payload(image, in, key);
    const Bytes msg = sign_hv_manifest(image, in, key);
    put(out / "cbor", "payload" + std::to_string(n), payload);
    put(out / "cbor", "cose" + std::to_string(n), msg);
    put(out / "cose_manifest", "cose" + std::to_string(n), prefixed(1, msg));
    put(out / "cose_manifest", "payload" + std::to_string(n), prefixed(0, payload));
    ++n;
  }
  CborWriter misc;
  misc.array(5).integer(-35).text("x").tag(18).map(1).uint(1).bytes(Bytes{1, 2}).uint(0x100000000ULL).head(7, 21);
  put(out / "cbor", "misc", misc.data());

  for (int variant = 0; variant < 2; ++variant) {
    BankList banks;
    banks.alg[banks.count++] = HashAlg::sha256;
    if (variant) banks.alg[banks.count++] = HashAlg::sha1;
    Bytes buf(16384);
    EventLogWriter w(buf.data(), buf.size());
    if (!w.write_header(banks)) return 1;
    const Bytes events[] = {Bytes(100, 1), Bytes{'o', 'k'}, Bytes(65, 4)};
    const uint32_t types[] = {kEvSkinitSlb, kEvHvManifest, kEvHvSigner};
    for (int i = 0; i < 3; ++i)
      if (!w.append(i == 2 ? 18 : 17, types[i], hash_banks(banks, events[i]), events[i])) return 1;
    buf.resize(w.size());
    put(out / "eventlog", "log" + std::to_string(variant), buf);
  }
  std::cout << "seeds written to " << out << "\n";
  return 0;
}
