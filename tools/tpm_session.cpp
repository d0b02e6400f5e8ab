#include "tools/tpm_session.hpp"

#include "policy/fs/pcr_map.hpp"
#include "tools/state_lock.hpp"
#include "tpm/swtpm_bridge_tpm.hpp"

namespace redoubt::tools {

std::unique_ptr<tpm::TpmDevice> open_tpm_session(const std::string& spec_text, const std::filesystem::path& state, bool new_tpm,
                                                 TpmStateCheck* check_out, const std::function<void(const std::string&)>& say) {
  if (spec_text == kQemuTpmSpec) {
    // --platform qemu: a private swtpm behind the QEMU bridge (tpm/swtpm_qemu_bridge.hpp), its NV in
    // <state>/tpm-qemu, guarded like the other software TPMs (docs/tpm-state.md).
    const std::filesystem::path dir = state / "tpm-qemu";
    lock_state_dir(dir, say);
    TpmStateCheck check = check_tpm_state(dir, new_tpm);
    std::filesystem::create_directories(dir);
    tpm::SwtpmQemuBridge::Options bo;
    bo.state_dir = dir.string();
    auto tpm = std::make_unique<tpm::SwtpmBridgeTpm>(std::make_shared<tpm::SwtpmQemuBridge>(bo));
    const std::string line = record_tpm_state(check);
    if (!line.empty() && say) say(line);
    if (check_out) *check_out = check;
    return tpm;
  }
  tpm::TpmSpec spec = tpm::TpmSpec::parse(spec_text);
  if (spec.state_dir.empty()) {
    if (spec.kind == tpm::TpmSpec::Kind::inproc) spec.state_dir = (state / "tpm-inproc").string();
    if (spec.kind == tpm::TpmSpec::Kind::swtpm_spawn) spec.state_dir = (state / "tpm-swtpm").string();
  }
  // One command at a time on a software TPM's NV (tools/state_lock.hpp).
  if (!spec.state_dir.empty()) lock_state_dir(spec.state_dir, say);
  // Before anything touches the state directory: a lost NV state must not turn silently into a new TPM.
  TpmStateCheck check = check_tpm_state(spec.state_dir, new_tpm);
  if (!spec.state_dir.empty()) std::filesystem::create_directories(spec.state_dir);
  auto tpm = tpm::open_tpm(spec);
  const std::string line = record_tpm_state(check);
  if (!line.empty() && say) say(line);
  if (new_tpm && check.status != "remanufactured" && say)
    say("[tpm] --new-tpm: nothing to do, the TPM state " + (check.guarded ? "in " + check.state_dir.string() + " is there and is kept" : "is not ours to manage") );
  if (check_out) *check_out = check;
  return tpm;
}

std::string tpm_spec_for(const std::string& platform, const std::string& tpm_spec) {
  if (platform != "qemu") return tpm_spec;
  if (tpm_spec != "inproc" && tpm_spec != kQemuTpmSpec)
    throw std::invalid_argument("--platform qemu brings its own TPM (a private swtpm QEMU and the harness share: "
                                "docs/qemu.md); leave --tpm out");
  return kQemuTpmSpec;
}

uint64_t ensure_svn_counter(tpm::TpmDevice& tpm, const std::function<void(const std::string&)>& say) {
  tpm.set_locality(0);
  if (auto v = tpm.nv_read_counter(policy::kNvHvSvnCounter)) return *v;
  tpm.nv_define_counter(policy::kNvHvSvnCounter);
  uint64_t v = tpm.nv_read_counter(policy::kNvHvSvnCounter).value_or(0);
  char idx[16];
  snprintf(idx, sizeof idx, "0x%08x", policy::kNvHvSvnCounter);
  say(std::string("[owner] provisioned the hypervisor anti-rollback counter (NV ") + idx + ") = " + std::to_string(v));
  return v;
}

}  // namespace redoubt::tools
