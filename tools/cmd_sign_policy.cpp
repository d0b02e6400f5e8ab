// `redoubt sign policy`: the platform owner's launch policy (docs/pki.md §2).
#include <ctime>
#include <iostream>
#include <memory>
#include <algorithm>
#include <stdexcept>

#include "policy/host/keys.hpp"
#include "policy/host/pki_build.hpp"
#include "policy/host/pki_sign.hpp"
#include "tools/cli_numbers.hpp"
#include "tools/cli_contract.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {
namespace {

// RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SSZ.
uint64_t parse_rfc3339(const std::string& s) {
  struct tm tm {};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) throw std::invalid_argument("--time: \"" + s + "\" is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)");
  const time_t t = timegm(&tm);
  if (t < 0) throw std::invalid_argument("--time: before 1970");
  return static_cast<uint64_t>(t);
}

// Hex serial (as `openssl x509 -serial` prints it) -> INTEGER content octets.
policy::Bytes serial_bytes(std::string hexs) {
  if (hexs.rfind("0x", 0) == 0 || hexs.rfind("0X", 0) == 0) hexs = hexs.substr(2);
  std::string h;
  for (char c : hexs)
    if (c != ':') h += c;
  if (h.empty() || h.size() > 42 || h.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    throw std::invalid_argument("--revoke-serial: \"" + hexs + "\" is not a hex serial number");
  if (h.size() % 2) h = "0" + h;
  policy::Bytes b;
  for (size_t i = 0; i < h.size(); i += 2) b.push_back(static_cast<uint8_t>(std::stoul(h.substr(i, 2), nullptr, 16)));
  while (b.size() > 1 && b[0] == 0 && !(b[1] & 0x80)) b.erase(b.begin());
  if (b[0] & 0x80) b.insert(b.begin(), 0);  // a positive INTEGER
  return b;
}

}  // namespace

void register_sign_policy(CLI::App* sign, int& exit_code) {
  struct Opts {
    std::string key, out, time, name = "redoubt-launch-policy", eku = policy::kGuestSigningEku;
    std::vector<std::string> anchors, revoke_serial, revoke_spki, min_svn, cpuid, io;
    uint64_t serial = 1;
    uint32_t max_intermediates = 3, min_rsa_bits = 2048;
    bool allow_unsigned = false;
    bool force = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* p = sign->add_subcommand("policy", "Sign a launch policy (guest trust anchors, profile, revocations, SVNs, CPUID/IO)");
  p->add_option("--key", o->key, "Platform owner's private key (PEM, P-256 or P-384)")->required();
  p->add_option("--anchor", o->anchors, "Guest trust anchor: a corporate root CA certificate (PEM/DER); 1..8")->required();
  p->add_option("--revoke-serial", o->revoke_serial, "Revoke by ISSUER_CERT:SERIAL (hex serial of a certificate that ISSUER_CERT issued)");
  p->add_option("--revoke-spki", o->revoke_spki, "Revoke by the public key of CERT (SHA-256 of its SubjectPublicKeyInfo)");
  p->add_option("--min-svn", o->min_svn, "Minimum guest SVN, NAME=N");
  p->add_flag("--allow-unsigned", o->allow_unsigned, "Admit guests without a manifest, launched unmeasured (default: refuse)");
  p->add_option("--time", o->time, "The policy's trusted time, RFC 3339 UTC (default: now)");
  p->add_option("--name", o->name, "Policy id (<= 63 bytes)")->capture_default_str();
  add_uint_option(p, "--serial", o->serial, "Policy serial (version)");
  p->add_option("--eku", o->eku, "Required guest-signing EKU OID")->capture_default_str();
  add_uint_option(p, "--max-intermediates", o->max_intermediates, "Intermediates allowed between leaf and anchor (0..3)", 0, policy::kMaxChain - 1);
  add_uint_option(p, "--min-rsa-bits", o->min_rsa_bits, "Smallest RSA modulus accepted in chains (2048..4096)", 2048, 4096);
  p->add_option("--cpuid-mask", o->cpuid, "CPUID bits hidden from guests: LEAF[.SUBLEAF]:REG:MASK, e.g. 0x1:ecx:0x80000000");
  p->add_option("--io-pass", o->io, "I/O ports passed through to guests: FIRST-LAST, e.g. 0x3f8-0x3ff");
  p->add_option("--out", o->out, "Output policy file")->required();
  p->add_flag("--force", o->force, "Replace an existing --out");
  p->add_flag("--json", o->json, "JSON on stdout: {wrote, signer, manifest} (docs/schemas/signed.json)");
  p->callback([o, &exit_code] {
    refuse_overwrite({o->out}, o->force, "a launch policy");
    policy::LaunchPolicyInput in;
    in.name = o->name;
    in.serial = o->serial;
    in.time = o->time.empty() ? static_cast<uint64_t>(std::time(nullptr)) : parse_rfc3339(o->time);
    in.eku = policy::oid_content(o->eku);
    in.max_intermediates = o->max_intermediates;
    in.min_rsa_bits = o->min_rsa_bits;
    in.allow_unsigned = o->allow_unsigned;
    for (const auto& a : o->anchors) in.anchors.push_back(policy::cert_der(policy::load_cert(a).get()));
    for (const auto& r : o->revoke_serial) {
      const size_t colon = r.rfind(':');
      if (colon == std::string::npos) throw std::invalid_argument("--revoke-serial: expected ISSUER_CERT:SERIAL, got \"" + r + "\"");
      policy::X509Ptr issuer = policy::load_cert(r.substr(0, colon));
      in.revocations.push_back(policy::revoke_by_serial(issuer.get(), serial_bytes(r.substr(colon + 1))));
    }
    for (const auto& r : o->revoke_spki) in.revocations.push_back(policy::revoke_by_spki(policy::load_cert(r).get()));
    for (const auto& s : o->min_svn) {
      const size_t eq = s.find('=');
      if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--min-svn: expected NAME=N, got \"" + s + "\"");
      in.min_svn[s.substr(0, eq)] = parse_uint(s.substr(eq + 1), "--min-svn " + s.substr(0, eq));
    }
    for (const auto& c : o->cpuid) {
      // LEAF[.SUBLEAF]:REG:MASK
      const size_t c1 = c.find(':'), c2 = c.find(':', c1 + 1);
      if (c1 == std::string::npos || c2 == std::string::npos) throw std::invalid_argument("--cpuid-mask: expected LEAF[.SUBLEAF]:REG:MASK");
      const std::string leaf = c.substr(0, c1), reg = c.substr(c1 + 1, c2 - c1 - 1);
      policy::CpuidMask m;
      const size_t dot = leaf.find('.');
      m.leaf = static_cast<uint32_t>(parse_uint(leaf.substr(0, dot), "--cpuid-mask leaf", 0, UINT32_MAX));
      if (dot != std::string::npos) m.subleaf = static_cast<uint32_t>(parse_uint(leaf.substr(dot + 1), "--cpuid-mask subleaf", 0, UINT32_MAX));
      static const char* kRegs[] = {"eax", "ebx", "ecx", "edx"};
      bool found = false;
      for (uint8_t i = 0; i < 4; ++i)
        if (reg == kRegs[i]) m.reg = i, found = true;
      if (!found) throw std::invalid_argument("--cpuid-mask: register must be eax, ebx, ecx or edx");
      m.clear = static_cast<uint32_t>(parse_uint(c.substr(c2 + 1), "--cpuid-mask mask", 0, UINT32_MAX));
      in.cpuid.push_back(m);
    }
    for (const auto& r : o->io) {
      const size_t dash = r.find('-');
      policy::IoRange range;
      range.first = static_cast<uint16_t>(parse_uint(r.substr(0, dash), "--io-pass first port", 0, 0xffff));
      range.last = dash == std::string::npos ? range.first : static_cast<uint16_t>(parse_uint(r.substr(dash + 1), "--io-pass last port", 0, 0xffff));
      if (range.last < range.first) throw std::invalid_argument("--io-pass: \"" + r + "\": the last port is below the first");
      in.io.push_back(range);
    }
    std::sort(in.io.begin(), in.io.end(), [](const policy::IoRange& a, const policy::IoRange& b) { return a.first < b.first; });
    policy::EvpKey key = policy::load_private_key(o->key);
    const std::vector<uint8_t> signed_policy = policy::sign_launch_policy(in, key);
    write_file(o->out, signed_policy);
    exit_code = kExitOk;
    if (o->json) return print_signed_json(std::cout, o->out, policy::key_id_hex(key), signed_policy);
    std::cout << "signed launch policy " << in.name << " serial " << in.serial << " (" << in.anchors.size() << " anchor(s), "
              << in.revocations.size() << " revocation(s), unsigned guests " << (in.allow_unsigned ? "allowed unmeasured" : "refused")
              << ") with key " << policy::key_id_hex(key) << "\nwrote " << o->out << "\n";
    exit_code = kExitOk;
  });
}

}  // namespace redoubt::tools
