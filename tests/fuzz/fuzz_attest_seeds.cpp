// Seeds for the issue-16 fuzzers: fuzz_attest_seeds OUTDIR writes one directory
// per target with valid inputs in that target's format (see each fuzz_*.cpp):
// DRTM logs of a complete launch with a launch policy and signed / unsigned /
// refused guests, signed reference values, EK certificates and enrolment bodies
// (keys: fuzz_state.hpp), boot params with a guest table, a launch policy with a
// signed guest manifest, hypercall sequences and x86 code.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "abi/boot_params.hpp"
#include "attestation/common/encoding.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/fs/eventlog.hpp"
#include "policy/fs/hash.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/cbor_write.hpp"
#include "policy/host/drtm_marker.hpp"
#include "policy/host/hv_manifest_build.hpp"
#include "policy/host/pki_build.hpp"
#include "policy/host/pki_sign.hpp"
#include "tests/fuzz/fuzz_state.hpp"

using namespace redoubt;
using namespace redoubt::policy;
using attest::to_base64;
namespace fs = std::filesystem;

namespace {

void put(const fs::path& dir, const std::string& name, const Bytes& b) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes u16le(size_t v) { return {uint8_t(v), uint8_t(v >> 8)}; }
Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }
template <class T> Bytes raw(const T& v) {
  Bytes b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return b;
}

constexpr int64_t kT0 = 1767225600;

struct Pki {
  EvpKey rk = generate_signing_key("P-256"), lk = generate_signing_key("P-256");
  X509Ptr root{nullptr, X509_free}, leaf{nullptr, X509_free};
  Pki() {
    CertSpec r{.cn = "Seed Root", .not_before = kT0 - 86400 * 365, .not_after = kT0 + 86400 * 3650};
    r.ca = true;
    r.ku_bits = 32 | 64;
    root = issue_cert(r, rk, nullptr, rk);
    CertSpec l{.cn = "Seed Signer", .not_before = kT0 - 86400, .not_after = kT0 + 86400 * 365};
    l.ku_bits = 1;
    l.eku = {kGuestSigningEku};
    leaf = issue_cert(l, lk, root.get(), rk);
  }
};

// A complete launch as sl/secure_loader.cpp and the hypervisor record it (docs/pcr-map.md),
// variant 0: signed + unsigned + refused guests; 1: refused launch; 2: no policy, no guests.
Bytes launch_log(int variant, const Pki& pki, const Bytes& policy_payload) {
  BankList banks;
  banks.alg[banks.count++] = HashAlg::sha256;
  banks.alg[banks.count++] = HashAlg::sha384;
  Bytes buf(65536);
  EventLogWriter w(buf.data(), buf.size());
  if (!w.write_header(banks)) std::abort();
  auto ev = [&](uint32_t pcr, uint32_t type, const Bytes& data, const Bytes* measured = nullptr) {
    if (!w.append(pcr, type, hash_banks(banks, measured ? *measured : data), data)) std::abort();
  };
  const Bytes slb(1024, 0x5b), image(4096, 0x90), sep(4, 0);
  ev(17, kEvSkinitSlb, text("SKINIT SLB base=0x200000 length=0x400"), &slb);
  if (variant == 1) {
    const Bytes why = text("malformed: boot params: event log region is empty");
    ev(17, kEvLaunchFailed, why);
    ev(18, kEvLaunchFailed, why);
    buf.resize(w.size());
    return buf;
  }
  EvpKey hv_key = generate_key("P-256");
  HvManifestInput in;
  in.version = "1.2.0";
  in.svn = 3;
  const Bytes payload = build_hv_manifest_payload(image, in, hv_key);
  const PublicKey pub = cose_public_key(hv_key);
  ev(17, kEvHvManifest, payload);
  ev(17, kEvHvImage, text("hypervisor image redoubt-hypervisor 1.2.0 (4096 bytes)"), &image);
  if (variant == 0) ev(17, kEvLaunchPolicy, policy_payload);
  ev(17, kEvSeparator, sep);
  ev(18, kEvHvSigner, Bytes(pub.sec1, pub.sec1 + pub.sec1_len));
  if (variant == 0) ev(18, kEvGuestAnchor, cert_der(pki.root.get()));
  ev(18, kEvSeparator, sep);
  if (variant == 0) {
    static const uint8_t kKernel[64] = {};
    GuestManifestInput g;
    g.name = "demo";
    g.version = "1";
    g.svn = 2;
    CborWriter chain;
    chain.array(2).bytes(cert_der(pki.leaf.get())).bytes(cert_der(pki.root.get()));
    ev(19, kEvGuestChain, chain.take());
    ev(20, kEvGuestManifest, build_guest_manifest_payload(kKernel, nullptr, g));
    ev(19, kEvGuestUnsigned, text("unsigned guest probe"));
    const Bytes kernel(512, 0xcc);
    ev(20, kEvGuestImage, text("unsigned guest probe kernel (512 bytes)"), &kernel);
    const Bytes refused = text("guest spy refused: rollback: guest spy SVN 1 is below the TPM anti-rollback counter 2");
    ev(19, kEvGuestRefused, refused);
    ev(20, kEvGuestRefused, refused);
  }
  ev(19, kEvSeparator, sep);
  ev(20, kEvSeparator, sep);
  buf.resize(w.size());
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_attest_seeds OUTDIR (keys from $REDOUBT_FUZZ_STATE, fuzz_state.hpp)\n";
    return 2;
  }
  const fs::path out = argv[1];
  Pki pki;
  LaunchPolicyInput lp;
  lp.time = kT0;
  lp.anchors = {cert_der(pki.root.get())};
  lp.min_svn = {{"demo", 1}};
  lp.allow_unsigned = true;
  lp.io = {IoRange{0x3f8, 0x3ff}};
  lp.cpuid = {CpuidMask{1, kCpuidAnySubleaf, 2, 1u << 31}};
  const Bytes policy_payload = build_launch_policy_payload(lp);
  const Bytes policy_cose = sign_launch_policy(lp, pki.rk);

  // Appraisers and the replay diagnosis.
  for (int v = 0; v < 3; ++v) {
    const Bytes log = launch_log(v, pki, policy_payload);
    const std::string n = "launch" + std::to_string(v);
    put(out / "eventlog_appraiser", n, cat({{1}, u16le(log.size()), log}));
    put(out / "eventlog_appraiser", n + "-noref", cat({{3}, u16le(log.size()), log}));
    put(out / "guest_appraiser", n, cat({{0}, log}));
    put(out / "guest_appraiser", n + "-noref", cat({{1}, log}));
    for (uint8_t pcr = 0; pcr < 4; ++pcr) {
      put(out / "replay", n + "-pcr" + std::to_string(17 + pcr) + "-drop", cat({{pcr}, {1}, {1}, log}));
      put(out / "replay", n + "-pcr" + std::to_string(17 + pcr) + "-384", cat({{uint8_t(pcr | 4)}, {0}, {0}, Bytes(48, 0), log}));
    }
    // The same launch as a QEMU harness records it: the emulated-DRTM marker after the header
    // (policy/host/drtm_marker.hpp, docs/attestation.md "Emulated DRTM (QEMU)").
    const Bytes marked = insert_emulated_drtm_marker(log, "qemu: SKINIT emulated by the host harness (swtpm control channel HASH_START/DATA/END)");
    put(out / "eventlog_appraiser", n + "-emulated", cat({{1}, u16le(marked.size()), marked}));
    put(out / "guest_appraiser", n + "-emulated", cat({{0}, marked}));
  }

  // Reference values.
  const nlohmann::json rv = {{"type", attest::kReferenceValuesType},
                             {"id", "seed"},
                             {"hypervisor", {{"signers", {std::string(64, 'a')}}, {"sha256", {std::string(64, 'b')}}, {"min_svn", 2}}},
                             {"slb", {{"sha256", {std::string(64, 'c')}}}},
                             {"launch_policy", {{"sha256", {std::string(64, 'd')}}, {"required", true}, {"min_serial", 1}}},
                             {"guests",
                              {{"anchors", {std::string(64, 'e')}},
                               {"signers", {std::string(64, 'f')}},
                               {"allow_unsigned", false},
                               {"rules", {{"demo", {{"min_svn", 1}, {"kernel_sha256", {std::string(64, '0')}}}}}}}},
                             {"drtm", {{"allow_emulated", true}}}};
  put(out / "reference_values", "json", cat({{0}, text(rv.dump())}));
  const EvpKey authority = load_private_key(fuzz_state::authority_prefix() + ".key.pem");
  put(out / "reference_values", "cose", cat({{1}, attest::sign_reference_values(rv, authority)}));

  // EK certificate and enrolment.
  const attest::ManufacturerCa ca = fuzz_state::ca();
  EvpKey ek_key = generate_key("P-256"), ak_key = generate_key("P-256");
  const TPM2B_PUBLIC ek = fuzz_state::with_point(attest::ek_template_ecc_p256(), ek_key);
  const TPM2B_PUBLIC ak = fuzz_state::with_point(attest::ak_template_ecc_p256(), ak_key);
  const Bytes cert = attest::issue_ek_certificate(ca, ek.publicArea, "seed");
  put(out / "ek_certificate", "ek", cat({{0}, u16le(cert.size()), cert, attest::marshal_public(ek)}));
  put(out / "ek_certificate", "ca-pem", cat({{1}, text(fuzz_state::slurp(ca.cert_pem))}));
  const nlohmann::json enrol = {{"id", "fuzz-enrolled"},
                                {"ek_certificate", to_base64(cert)},
                                {"ek_public", to_base64(attest::marshal_public(ek))},
                                {"ak_public", to_base64(attest::marshal_public(ak))}};
  put(out / "enrol", "enrol-push", cat({{0, 0}, text(enrol.dump())}));
  nlohmann::json pull = enrol;
  pull["mode"] = "pull";
  pull["agent_url"] = "http://127.0.0.1:9/";
  put(out / "enrol", "enrol-pull", cat({{0, 0}, text(pull.dump())}));
  put(out / "enrol", "activate", cat({{1, 0}, text(nlohmann::json{{"secret", to_base64(Bytes(32, 1))}}.dump())}));

  // The SL's boot params (fuzz_sl_boot_params: RAM 64 MiB, SLB 0x200000, table 0x301000, blob 0x400000).
  {
    using namespace redoubt::sl;
    BootParams bp{};
    std::memcpy(bp.magic, kBootParamsMagic, 8);
    bp.size = sizeof bp;
    bp.version = 1;
    bp.hv_manifest = {0x400000, 0x400};
    bp.hv_image = {0x401000, 0x1000};
    bp.launch_policy = {0x402000, 0x800};
    bp.event_log = {0x500000, 0x10000};
    bp.hv_memory = {0x600000, 0x200000};
    bp.guest_table = {0x301000, sizeof(GuestTable)};
    GuestTable t{};
    std::memcpy(t.magic, kGuestTableMagic, 8);
    t.count = 2;
    t.entry_size = sizeof(GuestEntry);
    std::memcpy(t.entries[0].name, "demo", 5);
    t.entries[0].image = {0x900000, 0x1000};
    t.entries[0].ram = {0x1000000, 0x400000};
    t.entries[0].manifest = {0x901000, 0x800};
    std::memcpy(t.entries[1].name, "probe-2", 8);
    t.entries[1].image = {0x902000, 0x1000};
    t.entries[1].ram = {0x1400000, 0x400000};
    t.entries[1].initrd = {0x903000, 0x100};
    t.entries[1].io_base = 0x3f8;
    t.entries[1].io_count = 8;
    const uint64_t bp_pa = 0x300000;
    const Bytes manifest = sign_hv_manifest(Bytes(0x1000, 0x90), HvManifestInput{.version = "1.0.0", .svn = 1}, generate_key("P-256"));
    put(out / "sl_boot_params", "two-guests", cat({raw(bp_pa), raw(bp), raw(t), manifest}));
    BootParams bare = bp;
    bare.hv_memory = bare.guest_table = {0, 0};
    put(out / "sl_boot_params", "no-guests", cat({raw(bp_pa), raw(bare), raw(t), manifest}));
  }

  // Guest admission: flags, io_base, io_count, RAM MiB, NV floor, policy length, policy, manifest.
  {
    static const uint8_t kKernel[64] = {};
    GuestManifestInput g;
    g.name = "demo";
    g.version = "1";
    g.cmdline = "console=ttyS0";
    g.svn = 2;
    g.memory_mib = 64;
    const Bytes initrd(10, 7);
    const Bytes m = sign_guest_manifest(kKernel, nullptr, g, pki.lk, {cert_der(pki.leaf.get()), cert_der(pki.root.get())});
    const Bytes mi = sign_guest_manifest(kKernel, &initrd, g, pki.lk, {cert_der(pki.leaf.get())});
    auto head = [&](uint8_t flags, uint16_t io_base, uint16_t io_count) {
      return cat({{flags}, u16le(io_base), u16le(io_count), {64}, {1}, u16le(policy_cose.size())});
    };
    put(out / "guest_admission", "signed", cat({head(1, 0, 0), policy_cose, m}));
    put(out / "guest_admission", "signed-initrd-io", cat({head(3, 0x3f8, 8), policy_cose, mi}));
    put(out / "guest_admission", "unsigned", cat({head(0, 0x3f8, 1), policy_cose}));
  }

  // Hypercalls: op records (fuzz_hypercall.cpp).
  {
    auto u64 = [](uint64_t v) { return raw(v); };
    auto u32 = [](uint32_t v) { return raw(v); };
    const Bytes hello = cat({{1}, u32(0x200000), u64(0x6f6c6c6568)});  // "hello" at GPA 2 MiB
    const Bytes write = cat({{0}, {0}, u64(0x200000), u64(5), u64(0)});
    const Bytes info = cat({{0}, {3}, u64(0x300000), u64(64), u64(0)});
    const Bytes timer = cat({{0}, {4}, u64(40), u64(1000), u64(1000)});
    const Bytes yield = cat({{0}, {1}, u64(0), u64(0), u64(0)});
    const Bytes pt = cat({{1}, u32(0x3000), u64(0x4003)});
    const Bytes paging_off = cat({{2}, u32(0x3000)});
    const Bytes cpuid = cat({{3}, u32(1), u32(0)});
    const Bytes msr = cat({{4 | 8}, u32(0xC0000080), u32(0), u32(0x500)});
    const Bytes io = cat({{5 | 0x20}, u16le(0x3f8)});
    const Bytes npf = cat({{7}, u32(0x10000000), {4}, {0}});
    put(out / "hypercall", "console", cat({hello, write, info}));
    put(out / "hypercall", "timer-halt", cat({timer, {6}, yield, {6}}));
    put(out / "hypercall", "tables", cat({pt, info, paging_off, write}));
    put(out / "hypercall", "exits", cat({cpuid, msr, io, npf, write}));
  }

  // x86 code: byte 0 = mode (0 64-bit, 1 compat, 2 32-bit protected).
  {
    const Bytes k64 = {0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 0x48, 0x01, 0xc3, 0x0f, 0xa2, 0x66, 0x0f, 0xef, 0xc0, 0xf3, 0xa4,
                       0x48, 0x8d, 0x04, 0x8d, 0x10, 0, 0, 0, 0xe8, 0, 0, 0, 0, 0x0f, 0x01, 0xd9, 0xcd, 0x03, 0xf4};
    const Bytes k32 = {0xb8, 1, 0, 0, 0, 0x01, 0xc3, 0x50, 0x58, 0x9c, 0x9d, 0x0f, 0x20, 0xc0, 0xea, 0, 0, 0x10, 0, 0x08, 0, 0xf4};
    put(out / "x86_decode", "long64", cat({{0}, k64}));
    put(out / "x86_decode", "compat32", cat({{1}, k32}));
    put(out / "x86_decode", "legacy32", cat({{2}, k32}));
  }
  {  // fuzz_dma_devices: records as that file documents them.
    auto le = [](uint64_t x, int n) {
      Bytes b;
      for (int i = 0; i < n; ++i) b.push_back(uint8_t(x >> (8 * i)));
      return b;
    };
    // A blocking DTE for 00:04.0, an engine read and write (IO_PAGE_FAULTs), COMPLETION_WAIT.
    put(out / "dma_devices", "blocked", cat({{0}, {4}, le(0, 2), le(0x0000000000000003ull, 8), le(0, 8), le(1, 8), le(0, 8),
                                             {6}, {1}, le(0x200000, 8), le(0, 8), le(64, 2), le(0, 8),
                                             {6}, {3}, le(0, 8), le(0x200000, 8), le(64, 2), le(0x4141, 8),
                                             {3}, le(0x1000000000302001ull, 8), le(0x77, 8)}));
    // A 4-level table for 00:04.0 (root 0x304000 -> ... -> page 0x200000) and a copy through it.
    put(out / "dma_devices", "mapped", cat({{0}, {2}, le(0x304000, 4), le(0x6000000000305601ull, 8),
                                            {2}, le(0x305000, 4), le(0x6000000000306401ull, 8),
                                            {2}, le(0x306000, 4), le(0x6000000000307201ull, 8),
                                            {2}, le(0x307000, 4), le(0x6000000000200001ull, 8),
                                            {4}, le(0, 2), le(0x6000000000304803ull, 8), le(5, 8), le(0, 8), le(0, 8),
                                            {6}, {0}, le(0x100, 8), le(0x0, 8), le(128, 2), le(0, 8),
                                            {3}, le(0x3000000500000000ull, 8), le(0x7FFFFFFFFFFFF003ull, 8)}));
  }
  std::cout << "seeds in " << out.string() << "\n";
  return 0;
}
