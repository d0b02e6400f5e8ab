#include "tools/tpm_state_guard.hpp"

#include <ctime>
#include <system_error>

namespace redoubt::tools {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// libtpms (inproc and swtpm alike) keeps the TPM's permanent state, NV included, in this file.
constexpr const char* kNvFile = "tpm2-00.permall";
constexpr const char* kFormat = "redoubt.tpm-journal/1";

std::string now_rfc3339() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

json read_journal(const fs::path& p) {
  const std::vector<uint8_t> b = read_file(p, input::kVerifierInput);
  json j = json::parse(b.begin(), b.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != kFormat || !j.contains("generation") ||
      !j["generation"].is_number_unsigned() || j["generation"].get<uint64_t>() == 0 || !j.contains("history") ||
      !j["history"].is_array())
    throw TpmStateLost(p.string() + " is not a Redoubt TPM journal (" + kFormat +
                       "); it is what tells a lost TPM state from a new one, so the TPM is not opened. Restore it "
                       "from a backup (docs/tpm-state.md)");
  return j;
}

}  // namespace

fs::path tpm_journal_path(const fs::path& state_dir) {
  fs::path d = state_dir.lexically_normal();
  if (!d.has_filename()) d = d.parent_path();  // "dir/" -> "dir"
  return d.parent_path() / (d.filename().string() + ".journal.json");
}

json TpmStateCheck::to_json() const {
  if (!guarded) return {{"status", status}};
  return {{"status", status},
          {"generation", generation},
          {"manufactured_at", manufactured_at.empty() ? json(nullptr) : json(manufactured_at)},
          {"state_dir", state_dir.string()},
          {"journal", journal.string()}};
}

TpmStateCheck check_tpm_state(const fs::path& state_dir, bool new_tpm) {
  TpmStateCheck c;
  if (state_dir.empty()) {
    c.status = "external";
    return c;
  }
  c.guarded = true;
  c.state_dir = fs::absolute(state_dir);
  c.journal = tpm_journal_path(c.state_dir);
  std::error_code ec;
  const bool nv = fs::exists(c.state_dir / kNvFile, ec);
  const bool journal = fs::exists(c.journal, ec);
  if (!journal) {
    c.status = nv ? "adopted" : "manufactured";
    c.generation = 1;
    c.manufactured_at = nv ? "" : now_rfc3339();
    return c;
  }
  const json j = read_journal(c.journal);
  const uint64_t gen = j["generation"].get<uint64_t>();
  const std::string made = j.value("manufactured_at", json(nullptr)).is_string() ? j["manufactured_at"].get<std::string>() : "";
  if (nv) {
    c.status = "existing";
    c.generation = gen;
    c.manufactured_at = made;
    return c;
  }
  if (!new_tpm)
    throw TpmStateLost("the TPM state is gone: " + (c.state_dir / kNvFile).string() + " is missing, but " + c.journal.string() +
                       " records TPM generation " + std::to_string(gen) + " manufactured there" +
                       (made.empty() ? "" : " at " + made) +
                       ". Its NV held the anti-rollback counters; a new TPM would start them again at 1 and let older, "
                       "revoked hypervisors and guests launch, so the TPM is not opened. Restore the state from a backup, "
                       "or pass --new-tpm to manufacture a new TPM (generation " + std::to_string(gen + 1) +
                       ", recorded in the journal and in launch.json; docs/tpm-state.md)");
  c.status = "remanufactured";
  c.generation = gen + 1;
  c.manufactured_at = now_rfc3339();
  return c;
}

std::string record_tpm_state(TpmStateCheck& c) {
  if (!c.guarded || c.status == "existing") return "";
  json j = fs::exists(c.journal) ? read_journal(c.journal) : json{{"format", kFormat}, {"history", json::array()}};
  j["state_dir"] = c.state_dir.string();
  j["nv_file"] = kNvFile;
  j["generation"] = c.generation;
  j["manufactured_at"] = c.manufactured_at.empty() ? json(nullptr) : json(c.manufactured_at);
  const char* how = c.status == "manufactured"     ? "first use of the state directory"
                    : c.status == "remanufactured" ? "--new-tpm after the NV state was lost"
                                                   : "state found without a journal (made before journals existed)";
  j["history"].push_back({{"generation", c.generation}, {"at", now_rfc3339()}, {"event", c.status}, {"how", how}});
  write_text(c.journal, j.dump(2) + "\n");
  if (c.status == "remanufactured")
    return "[tpm] WARNING: --new-tpm: manufactured a new TPM (generation " + std::to_string(c.generation) + ") in " +
           c.state_dir.string() + "; the previous TPM's NV and its anti-rollback counters are lost (recorded in " +
           c.journal.string() + ")";
  if (c.status == "manufactured")
    return "[tpm] manufactured a new TPM in " + c.state_dir.string() + " (generation 1, recorded in " + c.journal.string() + ")";
  return "[tpm] journal started for the existing TPM state in " + c.state_dir.string() + " (" + c.journal.string() + ")";
}

}  // namespace redoubt::tools
