#include "tools/tpm_session.hpp"

#include "policy/fs/pcr_map.hpp"

namespace redoubt::tools {

std::unique_ptr<tpm::TpmDevice> open_tpm_session(const std::string& spec_text, const std::filesystem::path& state) {
  tpm::TpmSpec spec = tpm::TpmSpec::parse(spec_text);
  if (spec.state_dir.empty()) {
    if (spec.kind == tpm::TpmSpec::Kind::inproc) spec.state_dir = (state / "tpm-inproc").string();
    if (spec.kind == tpm::TpmSpec::Kind::swtpm_spawn) spec.state_dir = (state / "tpm-swtpm").string();
  }
  if (!spec.state_dir.empty()) std::filesystem::create_directories(spec.state_dir);
  return tpm::open_tpm(spec);
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
