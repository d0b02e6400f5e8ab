// Guest admission cost (issue 4): what the hypervisor spends per guest before
// its first instruction — verify_guest (chain with BearSSL's X.509 engine and
// our profile checks, manifest signature, kernel digest) — and the launch
// policy decode, for P-256, P-384 and RSA-3072 PKIs. Medians over N runs.
//   build/bench_pki [N] [KERNEL_KIB]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "bench/bench_cli.hpp"
#include "policy/fs/guest_manifest.hpp"
#include "policy/fs/launch_policy.hpp"
#include "policy/host/pki_build.hpp"
#include "policy/host/pki_sign.hpp"

using namespace redoubt;
using namespace redoubt::policy;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kNow = 1767225600;  // 2026-01-01, the policy time

template <class F>
std::vector<double> samples_us(int n, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return t;
}

void run(bench::Report& rep, const char* kind, int n, size_t kernel_bytes) {
  EvpKey rk = generate_signing_key(kind), ik = generate_signing_key(kind), lk = generate_signing_key(kind);
  CertSpec root{.cn = "Bench Root", .not_before = kNow - 86400, .not_after = kNow + 86400 * 365};
  root.ca = true;
  root.path_len = 1;
  root.ku_bits = kKuKeyCertSign;
  CertSpec inter = root;
  inter.cn = "Bench Guest Signing CA";
  inter.path_len = 0;
  CertSpec leaf{.cn = "Bench Signer", .not_before = kNow - 86400, .not_after = kNow + 86400 * 365};
  leaf.ku_bits = kKuDigitalSignature;
  leaf.eku = {kGuestSigningEku};
  X509Ptr rc = issue_cert(root, rk, nullptr, rk);
  X509Ptr ic = issue_cert(inter, ik, rc.get(), rk);
  X509Ptr lc = issue_cert(leaf, lk, ic.get(), ik);

  LaunchPolicyInput pin;
  pin.time = kNow;
  pin.anchors = {cert_der(rc.get())};
  const Bytes payload = build_launch_policy_payload(pin);
  auto lp = std::make_unique<LaunchPolicy>();
  Refusal why;
  const std::vector<double> decode_us = samples_us(n, [&] {
    if (!launch_policy_decode(payload, *lp, why)) std::abort();
  });

  Bytes kernel(kernel_bytes);
  for (size_t i = 0; i < kernel.size(); ++i) kernel[i] = uint8_t(i * 7);
  GuestManifestInput gin;
  gin.name = "bench";
  gin.version = "1";
  gin.svn = 1;
  gin.memory_mib = 8;
  const Bytes manifest = sign_guest_manifest(kernel, nullptr, gin, lk, {cert_der(lc.get()), cert_der(ic.get())});
  auto m = std::make_unique<GuestManifest>();
  auto chain = std::make_unique<VerifiedChain>();
  const std::vector<double> verify_us = samples_us(n, [&] {
    if (!verify_guest(*lp, manifest, kernel, {}, *m, *chain, why)) std::abort();
  });
  const std::vector<double> chain_only_us = samples_us(n, [&] {
    if (!verify_guest_manifest(*lp, manifest, *m, *chain, why)) std::abort();
  });
  rep.add(std::string(kind) + " launch policy decode", "us", decode_us);
  rep.add(std::string(kind) + " verify_guest (chain, signature, kernel digest)", "us", verify_us,
          {{"kernel_kib", kernel_bytes / 1024}});
  rep.add(std::string(kind) + " chain + signature only", "us", chain_only_us);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::BenchArgs args = bench::parse_bench_args(
      argc, argv,
      "[KERNEL_KIB]\n  KERNEL_KIB  size of the guest kernel whose digest is checked (default 1024)\n"
      "Guest admission on the native build of the freestanding verifier (BearSSL): P-256, P-384, RSA-3072;\n"
      "--reps timed runs of each step (default 50).",
      1, 50);
  const size_t kib = bench::positional_u64(args, 0, 1024, 1, "KERNEL_KIB");
  bench::Report rep("bench_pki", args);
  for (const char* k : {"P-256", "P-384", "RSA-3072"}) run(rep, k, args.reps, kib * 1024);
  rep.finish();
  return 0;
}
