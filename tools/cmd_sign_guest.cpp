// `redoubt sign guest`: kernel (+ initrd, cmdline) + leaf key/cert (+ chain) ->
// a COSE_Sign1 guest manifest carrying the x5chain (docs/pki.md §4).
#include <filesystem>
#include <iostream>
#include <memory>

#include "policy/host/keys.hpp"
#include "policy/host/pki_build.hpp"
#include "policy/host/pki_sign.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {

void register_sign_guest(CLI::App* sign, int& exit_code) {
  struct Opts {
    std::string kernel, initrd, cmdline, key, cert, name, version, out, digest = "sha256";
    std::vector<std::string> chain;
    uint64_t svn = 0, memory = 64;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* g = sign->add_subcommand("guest", "Sign a guest OS: writes a COSE_Sign1 guest manifest with the signer's certificate chain");
  g->add_option("--kernel", o->kernel, "Kernel image")->required();
  g->add_option("--initrd", o->initrd, "Initrd image");
  g->add_option("--cmdline", o->cmdline, "Kernel command line (<= 1023 bytes)");
  g->add_option("--key", o->key, "Signer's private key (PEM; P-256, P-384 or RSA)")->required();
  g->add_option("--cert", o->cert, "Signer's (leaf) certificate, PEM or DER")->required();
  g->add_option("--chain", o->chain, "Intermediate certificate(s), issuer of the leaf first (PEM files may hold several)");
  g->add_option("--svn", o->svn, "Security version number")->required();
  g->add_option("--name", o->name, "Guest name (<= 63 bytes; the key of the SVN floor); default: the kernel file's name");
  g->add_option("--version", o->version, "Version string (<= 31 bytes); default: the SVN");
  g->add_option("--memory", o->memory, "Guest memory in MiB")->capture_default_str();
  g->add_option("--digest", o->digest, "Image digest algorithm")->check(CLI::IsMember({"sha256", "sha384"}))->capture_default_str();
  g->add_option("--out", o->out, "Output manifest file")->required();
  g->callback([o, &exit_code] {
    const std::vector<uint8_t> kernel = read_file(o->kernel);
    std::unique_ptr<std::vector<uint8_t>> initrd;
    if (!o->initrd.empty()) initrd = std::make_unique<std::vector<uint8_t>>(read_file(o->initrd));
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
    write_file(o->out, policy::sign_guest_manifest(kernel, initrd.get(), in, key, chain));
    std::cout << "signed guest " << in.name << " " << in.version << " SVN " << o->svn << " (kernel " << kernel.size() << " bytes"
              << (initrd ? ", initrd " + std::to_string(initrd->size()) + " bytes" : std::string()) << ") with a chain of " << chain.size()
              << " certificate(s)\nwrote " << o->out << "\n";
    exit_code = kExitOk;
  });
}

}  // namespace redoubt::tools
