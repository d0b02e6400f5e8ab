// `redoubt sign guest`: kernel (+ initrd, cmdline) + leaf key/cert (+ chain) ->
// a COSE_Sign1 guest manifest carrying the x5chain (docs/pki.md §4).
#include <filesystem>
#include <iostream>
#include <memory>

#include "hypervisor/core/guest_abi.hpp"
#include "policy/fs/guest_manifest.hpp"
#include "policy/host/keys.hpp"
#include "policy/host/pki_build.hpp"
#include "policy/host/pki_sign.hpp"
#include "tools/cli_numbers.hpp"
#include "tools/cli_contract.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {

namespace {

// Refuses at signing time what the hypervisor would refuse at admission (Vm::load's
// rules, hypervisor/core/guest_abi.hpp): a manifest nobody can run is not signed.
void check_guest_memory(uint64_t mib, uint64_t kernel, uint64_t initrd) {
  auto fits = [&](uint64_t m) {
    const uint64_t ram = m << 20;
    return hv::guest_ram_size_ok(ram) && hv::guest_image_fits(ram, kernel) && hv::guest_initrd_fits(ram, kernel, initrd);
  };
  if (fits(mib)) return;
  const std::string head = "--memory " + std::to_string(mib) + ": ";
  if (kernel == 0) throw std::invalid_argument("--kernel: the kernel image is empty; the hypervisor refuses an empty guest image");
  if (!hv::guest_ram_size_ok(mib << 20))
    throw std::invalid_argument(head + "the hypervisor admits guest RAM only in whole 2 MiB pages and at least " +
                                std::to_string(hv::kGuestMinRam >> 20) + " MiB (an even number >= 4); it would refuse this guest");
  uint64_t need = hv::kGuestMinRam >> 20;
  while (need <= policy::kMaxGuestMemoryMib && !fits(need)) need += hv::kGuestRamAlign >> 20;
  const std::string what = !hv::guest_image_fits(mib << 20, kernel)
                               ? "the kernel (" + std::to_string(kernel) + " bytes, loaded at 1 MiB, below a 64 KiB stack) does not fit"
                               : "the kernel and initrd (" + std::to_string(kernel) + " + " + std::to_string(initrd) +
                                     " bytes, loaded at 1 MiB, below a 64 KiB stack) do not fit";
  throw std::invalid_argument(head + what + " in " + std::to_string(mib) + " MiB; the hypervisor would refuse this guest" +
                              (need <= policy::kMaxGuestMemoryMib ? "; it needs --memory " + std::to_string(need) + " or more" : ""));
}

}  // namespace

void register_sign_guest(CLI::App* sign, int& exit_code) {
  struct Opts {
    std::string kernel, initrd, cmdline, key, cert, name, version, out, digest = "sha256";
    std::vector<std::string> chain;
    uint64_t svn = 0, memory = 64;
    bool force = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* g = sign->add_subcommand("guest", "Sign a guest OS: writes a COSE_Sign1 guest manifest with the signer's certificate chain");
  g->add_option("--kernel", o->kernel, "Kernel image")->required();
  g->add_option("--initrd", o->initrd, "Initrd image");
  g->add_option("--cmdline", o->cmdline, "Kernel command line (<= 1023 bytes)");
  g->add_option("--key", o->key, "Signer's private key (PEM; P-256, P-384 or RSA)")->required();
  g->add_option("--cert", o->cert, "Signer's (leaf) certificate, PEM or DER")->required();
  g->add_option("--chain", o->chain, "Intermediate certificate(s), issuer of the leaf first (PEM files may hold several)");
  add_uint_option(g, "--svn", o->svn, "Security version number, 0..2^64-1")->required();
  g->add_option("--name", o->name, "Guest name (<= 63 bytes; the key of the SVN floor); default: the kernel file's name");
  g->add_option("--version", o->version, "Version string (<= 31 bytes); default: the SVN");
  add_uint_option(g, "--memory", o->memory, "Guest memory in MiB: even, at least 4, with room for the kernel and initrd (what the hypervisor admits)", 1, policy::kMaxGuestMemoryMib);
  g->add_option("--digest", o->digest, "Image digest algorithm")->check(CLI::IsMember({"sha256", "sha384"}))->capture_default_str();
  g->add_option("--out", o->out, "Output manifest file")->required();
  g->add_flag("--force", o->force, "Replace an existing --out");
  g->add_flag("--json", o->json, "JSON on stdout: {wrote, signer, manifest} (docs/schemas/signed.json)");
  g->callback([o, &exit_code] {
    refuse_overwrite({o->out}, o->force, "a guest manifest");
    const std::vector<uint8_t> kernel = read_file(o->kernel, input::kGuestKernel);
    std::unique_ptr<std::vector<uint8_t>> initrd;
    if (!o->initrd.empty()) initrd = std::make_unique<std::vector<uint8_t>>(read_file(o->initrd, input::kGuestInitrd));
    check_guest_memory(o->memory, kernel.size(), initrd ? initrd->size() : 0);
    policy::EvpKey key = policy::load_private_key(o->key);
    std::vector<policy::Bytes> chain{policy::cert_der(policy::load_cert(o->cert).get())};
    for (const auto& f : o->chain)
      for (const auto& c : policy::load_certs(f)) chain.push_back(policy::cert_der(c.get()));
    policy::GuestManifestInput in;
    in.name = o->name.empty() ? std::filesystem::path(o->kernel).stem().string() : o->name;
    in.version = o->version.empty() ? std::to_string(o->svn) : o->version;
    in.cmdline = o->cmdline;
    in.svn = o->svn;
    in.memory_mib = o->memory;
    in.digest_alg = o->digest == "sha384" ? HashAlg::sha384 : HashAlg::sha256;
    const std::vector<uint8_t> manifest = policy::sign_guest_manifest(kernel, initrd.get(), in, key, chain);
    write_file(o->out, manifest);
    exit_code = kExitOk;
    if (o->json) return print_signed_json(std::cout, o->out, policy::key_id_hex(key), manifest);
    std::cout << "signed guest " << in.name << " " << in.version << " SVN " << o->svn << " (kernel " << kernel.size() << " bytes"
              << (initrd ? ", initrd " + std::to_string(initrd->size()) + " bytes" : std::string()) << ") with a chain of " << chain.size()
              << " certificate(s)\nwrote " << o->out << "\n";
    exit_code = kExitOk;
  });
}

}  // namespace redoubt::tools
