// Seeds for fuzz_guest_manifest and fuzz_launch_policy, from a fixed-time PKI:
//   fuzz_pki_seeds OUTDIR      writes OUTDIR/{guest_manifest,launch_policy}/
//   fuzz_pki_seeds --root-inc FILE   writes the root certificate as a C array
// (the fuzzer's policy must trust the seeds' root; CMake runs --root-inc first).
#include <filesystem>
#include <fstream>
#include <iostream>

#include "policy/host/pki_build.hpp"
#include "policy/host/pki_sign.hpp"

using namespace redoubt;
using namespace redoubt::policy;
namespace fs = std::filesystem;

namespace {
constexpr int64_t kT0 = 1767225600;

void put(const fs::path& dir, const std::string& name, uint8_t first, const Bytes& b) {
  fs::create_directories(dir);
  std::ofstream f(dir / name, std::ios::binary);
  f.put(static_cast<char>(first));
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Deterministic keys would need a fixed RNG; instead the root is stored next to
// the seeds (the .inc) and both are regenerated together.
struct SeedPki {
  EvpKey rk = generate_signing_key("P-256"), ik = generate_signing_key("P-256"), lk = generate_signing_key("P-256");
  X509Ptr root{nullptr, X509_free}, inter{nullptr, X509_free}, leaf{nullptr, X509_free};
  SeedPki() {
    CertSpec r{.cn = "Fuzz Root", .not_before = kT0 - 86400 * 365, .not_after = kT0 + 86400 * 3650};
    r.ca = true;
    r.ku_bits = 32 | 64;
    root = issue_cert(r, rk, nullptr, rk);
    CertSpec i = r;
    i.cn = "Fuzz Guest CA";
    i.path_len = 0;
    inter = issue_cert(i, ik, root.get(), rk);
    CertSpec l{.cn = "Fuzz Signer", .not_before = kT0 - 86400, .not_after = kT0 + 86400 * 365};
    l.ku_bits = 1;
    l.eku = {kGuestSigningEku};
    leaf = issue_cert(l, lk, inter.get(), ik);
  }
};
}  // namespace

int main(int argc, char** argv) {
  static const char* kState = "fuzz-pki-state.der";  // the root + keys survive between the two calls
  if (argc == 3 && std::string(argv[1]) == "--root-inc") {
    SeedPki p;
    const fs::path dir = fs::path(argv[2]).parent_path();
    // Persist the whole PKI so the seed run reuses it.
    auto save = [&](const std::string& n, const Bytes& b) { std::ofstream(dir / n, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size())); };
    save("fuzz-pki-root.der", cert_der(p.root.get()));
    save("fuzz-pki-inter.der", cert_der(p.inter.get()));
    save("fuzz-pki-leaf.der", cert_der(p.leaf.get()));
    write_private_key_pem((dir / "fuzz-pki-leaf.key.pem").string(), p.lk);
    write_private_key_pem((dir / "fuzz-pki-owner.key.pem").string(), p.rk);
    std::ofstream inc(argv[2]);
    const Bytes der = cert_der(p.root.get());
    inc << "static const uint8_t kSeedRoot[] = {";
    for (size_t i = 0; i < der.size(); ++i) inc << (i ? "," : "") << static_cast<int>(der[i]);
    inc << "};\n";
    (void)kState;
    return 0;
  }
  if (argc != 3) {
    std::cerr << "usage: fuzz_pki_seeds --root-inc FILE | fuzz_pki_seeds STATEDIR OUTDIR\n";
    return 2;
  }
  const fs::path state = argv[1], out = argv[2];
  auto load = [&](const std::string& n) {
    std::ifstream f(state / n, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(f), {});
  };
  const Bytes root = load("fuzz-pki-root.der"), inter = load("fuzz-pki-inter.der"), leaf = load("fuzz-pki-leaf.der");
  EvpKey lk = load_private_key((state / "fuzz-pki-leaf.key.pem").string());
  EvpKey owner = load_private_key((state / "fuzz-pki-owner.key.pem").string());
  static const uint8_t kKernel[64] = {};
  GuestManifestInput in;
  in.name = "fuzz-guest";
  in.version = "1";
  in.cmdline = "console=ttyS0";
  in.svn = 3;
  const Bytes initrd(10, 7);
  put(out / "guest_manifest", "chain2", 1, sign_guest_manifest(kKernel, nullptr, in, lk, {leaf, inter}));
  put(out / "guest_manifest", "chain3", 1, sign_guest_manifest(kKernel, &initrd, in, lk, {leaf, inter, root}));
  put(out / "guest_manifest", "leafonly", 1, sign_guest_manifest(kKernel, nullptr, in, lk, {leaf}));
  put(out / "guest_manifest", "payload", 0, build_guest_manifest_payload(kKernel, &initrd, in));
  put(out / "guest_manifest", "cert", 0, leaf);
  LaunchPolicyInput p;
  p.time = kT0;
  p.anchors = {root};
  p.min_svn = {{"a", 1}, {"fuzz-guest", 2}};
  p.allow_unsigned = true;
  p.cpuid = {CpuidMask{1, kCpuidAnySubleaf, 2, 1u << 31}};
  p.io = {IoRange{0x3f8, 0x3ff}};
  p.revocations = {revoke_by_spki(cert_from_der(inter).get()), revoke_by_serial(cert_from_der(root).get(), Bytes{1, 2, 3})};
  put(out / "launch_policy", "payload", 0, build_launch_policy_payload(p));
  put(out / "launch_policy", "cose", 1, sign_launch_policy(p, owner));
  std::cout << "seeds in " << out << "\n";
  return 0;
}
