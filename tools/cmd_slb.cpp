// `redoubt slb seal|show`: put the hypervisor-signing key into an SL image.
#include <iostream>
#include <nlohmann/json.hpp>
#include <memory>
#include <openssl/evp.h>

#include "policy/host/keys.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"
#include "tools/slb_image.hpp"

namespace redoubt::tools {

namespace {
struct SlbOptions {
  std::string in, key, owner, out;
  bool json = false;
};

std::string sha256_hex(const uint8_t* p, size_t n) {
  uint8_t md[32];
  unsigned len = 0;
  EVP_Digest(p, n, md, &len, EVP_sha256(), nullptr);
  return hex(md, 32);
}
}  // namespace

void register_slb(CLI::App& app, int& exit_code) {
  CLI::App* slb = app.add_subcommand("slb", "Secure Loader Block images");
  slb->require_subcommand(1);
  auto o = std::make_shared<SlbOptions>();
  CLI::App* seal = slb->add_subcommand("seal", "Seal a hypervisor-signing public key into an SL image");
  seal->add_option("--sl", o->in, "SL image (e.g. build/sl.bin)")->required();
  // One meaning per flag name (docs/running.md "Option names"): --key is always a private key;
  // the hypervisor-signing *public* key is --hv-key here as in `launch` and `run`.
  seal->add_option("--hv-key", o->key, "Hypervisor-signing public key PEM (sealed into the SLB)");
  auto old_key = std::make_shared<std::string>();
  seal->add_option("--key", *old_key, "(renamed: --hv-key)")->group("");
  seal->add_option("--owner", o->owner, "Platform owner's public key PEM (verifies launch policies)");
  seal->add_option("--out", o->out, "Sealed SL image")->required();
  seal->add_flag("--json", o->json, "JSON on stdout: {wrote, sealed_key, owner_key, measured_sha256} (docs/schemas/slb-seal.json)");
  seal->callback([o, old_key, &exit_code] {
    if (!old_key->empty())
      throw std::invalid_argument("slb seal --key is now --hv-key (a public key; --key always names a private key)");
    if (o->key.empty() && o->owner.empty()) throw std::invalid_argument("slb seal: give --hv-key, --owner or both");
    std::vector<uint8_t> img = read_file(o->in, input::kSlImage);
    nlohmann::json j = {{"sealed_key", nullptr}, {"owner_key", nullptr}};
    std::ostream& text = o->json ? std::cerr : std::cout;  // with --json, stdout is the one document
    if (!o->key.empty()) {
      policy::EvpKey k = policy::load_public_key(o->key);
      seal_slb(img, policy::cose_public_key(k));
      j["sealed_key"] = policy::key_id_hex(k);
      text << "sealed hypervisor-signing key " << policy::key_id_hex(k) << "\n";
    }
    if (!o->owner.empty()) {
      policy::EvpKey k = policy::load_public_key(o->owner);
      seal_slb_owner(img, policy::cose_public_key(k));
      j["owner_key"] = policy::key_id_hex(k);
      text << "sealed platform owner key " << policy::key_id_hex(k) << "\n";
    }
    write_file(o->out, img);
    SlbInfo info = inspect_slb(img);
    j["wrote"] = o->out;
    j["measured_sha256"] = sha256_hex(img.data(), info.length);
    if (o->json)
      std::cout << j.dump(2) << "\n";
    else
      std::cout << "wrote " << o->out << "\nmeasured region sha256 " << sha256_hex(img.data(), info.length) << "\n";
    exit_code = kExitOk;
  });
  auto file = std::make_shared<std::string>();
  auto json_out = std::make_shared<bool>(false);
  CLI::App* show = slb->add_subcommand("show", "Print an SL image's header, sealed key and measurement");
  show->add_option("file", *file, "SL image")->required();
  show->add_flag("--json", *json_out, "JSON on stdout: {entry, length, key_slot, sealed_key, owner_key, measured_sha256}");
  show->callback([file, json_out, &exit_code] {
    std::vector<uint8_t> img = read_file(*file, input::kSlImage);
    SlbInfo info;
    try {
      info = inspect_slb(img);
    } catch (const InputError& e) {  // the message names the file once (issue 15)
      throw InputError(*file + ": " + e.what());
    }
    if (*json_out) {
      auto key = [](const auto& k) {
        return k ? nlohmann::json{{"sec1", hex(k->sec1, k->sec1_len)}, {"alg", static_cast<int>(k->alg)}} : nlohmann::json();
      };
      nlohmann::json j = {{"entry", info.entry}, {"length", info.length}, {"key_slot", info.key_slot_offset},
                          {"sealed_key", key(info.key)}, {"owner_slot", info.owner_slot_offset}, {"owner_key", key(info.owner)}};
      j["measured_sha256"] = info.length <= img.size() ? nlohmann::json(sha256_hex(img.data(), info.length)) : nlohmann::json();
      std::cout << j.dump(2) << "\n";
      exit_code = kExitOk;
      return;
    }
    char line[160];
    snprintf(line, sizeof line, "entry 0x%04x  length 0x%04x (%u bytes)  key slot 0x%04x\n", info.entry, info.length,
             info.length, info.key_slot_offset);
    std::cout << line << "sealed key: "
              << (info.key ? hex(info.key->sec1, info.key->sec1_len).substr(0, 16) + "… (alg " +
                                 std::to_string(static_cast<int>(info.key->alg)) + ")"
                           : std::string("none"))
              << "\n"
              << "owner key: "
              << (!info.owner_slot_offset ? std::string("no owner slot")
                  : info.owner ? hex(info.owner->sec1, info.owner->sec1_len).substr(0, 16) + "… (alg " +
                                     std::to_string(static_cast<int>(info.owner->alg)) + ")"
                               : std::string("none"))
              << "\n";
    if (info.length <= img.size())
      std::cout << "sha256(SLB[0:length]) = " << sha256_hex(img.data(), info.length) << "\n";
    exit_code = kExitOk;
  });
}

}  // namespace redoubt::tools
