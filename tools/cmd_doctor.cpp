// `redoubt doctor`: checks this machine for what the commands need — the built images,
// the in-process TPM, the outside tools (swtpm, QEMU, tpm2-tools, Bochs) and the health
// of a state directory — and says what to fix (docs/running.md "redoubt doctor").
// Exit 0: all good; 4: only warnings (something optional is missing); 3: a failure.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "tools/commands.hpp"
#include "tools/common.hpp"
#include "tools/tpm_state_guard.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::tools {
namespace {

namespace fs = std::filesystem;

struct Finding {
  std::string check, status, detail, fix;  // status: ok | warn | fail
};

// The first line a program prints for `args`, or "" if it cannot be run.
std::string first_line_of(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen((cmd + " 2>&1").c_str(), "r"), pclose);
  if (!p) return "";
  char buf[256] = {};
  if (!fgets(buf, sizeof buf, p.get())) return "";
  std::string s(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

bool on_path(const std::string& prog) {
  return std::system(("command -v " + prog + " >/dev/null 2>&1").c_str()) == 0;
}

Finding tool(const std::string& name, const std::string& prog, const std::string& version_cmd, const std::string& needed_for,
             const std::string& package) {
  if (!on_path(prog)) return {name, "warn", prog + " not found (needed for " + needed_for + ")", "apt-get install " + package};
  return {name, "ok", first_line_of(version_cmd), ""};
}

Finding images() {
  const fs::path b = build_dir();
  std::string missing;
  for (const char* f : {"sl.bin", "sl2.bin", "hv.bin", "guests/hello.bin", "guests/sha256.bin", "guests/mmu.bin", "guests/probe.bin"})
    if (!fs::exists(b / f)) missing += std::string(missing.empty() ? "" : ", ") + f;
  if (!missing.empty()) return {"images", "fail", "missing in " + b.string() + ": " + missing, "scripts/build.sh"};
  return {"images", "ok", b.string() + ": sl.bin " + std::to_string(fs::file_size(b / "sl.bin")) + " B, sl2.bin " +
                              std::to_string(fs::file_size(b / "sl2.bin")) + " B, hv.bin " + std::to_string(fs::file_size(b / "hv.bin")) +
                              " B, 4 demo guests", ""};
}

// A throw-away in-process TPM (libtpms): power on, read PCR17 (all ones before a DRTM launch).
Finding inproc_tpm() {
  const fs::path dir = fs::temp_directory_path() / ("redoubt-doctor-" + std::to_string(getpid()));
  try {
    tpm::TpmSpec spec;
    spec.state_dir = dir.string();
    fs::create_directories(dir);
    auto t = tpm::open_tpm(spec);
    const auto pcrs = t->pcr_read({17});
    std::error_code ec;
    fs::remove_all(dir, ec);
    for (const auto& [alg, v] : pcrs)
      if (alg == HashAlg::sha256 && v.count(17) && v.at(17) == std::vector<uint8_t>(32, 0xFF))
        return {"inproc TPM", "ok", t->describe() + ": " + std::to_string(pcrs.size()) + " PCR banks, PCR17 all ones before a launch", ""};
    return {"inproc TPM", "fail", "PCR17 is not the all-ones value a TPM has before a DRTM launch", "reinstall libtpms0"};
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    return {"inproc TPM", "fail", e.what(), "apt-get install libtpms0 libtss2-dev (scripts/setup.sh)"};
  }
}

std::vector<Finding> state_health(const fs::path& state) {
  std::vector<Finding> out;
  if (!fs::exists(state)) {
    out.push_back({"state", "ok", state.string() + ": not made yet; the first command makes it (and its TPM)", ""});
    return out;
  }
  if (!fs::is_directory(state)) {
    out.push_back({"state", "fail", state.string() + ": exists and is not a directory: no command can keep its TPM there",
                   "give --state a directory (or move the file away)"});
    return out;
  }
  for (const char* kind : {"tpm-inproc", "tpm-swtpm", "tpm-qemu"}) {
    const fs::path dir = state / kind;
    if (!fs::exists(dir) && !fs::exists(tpm_journal_path(dir))) continue;
    const std::string name = std::string("state/") + kind;
    try {
      const TpmStateCheck c = check_tpm_state(dir, false);
      out.push_back({name, "ok", dir.string() + ": TPM generation " + std::to_string(c.generation) +
                                     (c.manufactured_at.empty() ? "" : ", made " + c.manufactured_at), ""});
    } catch (const std::exception& e) {
      out.push_back({name, "fail", e.what(), "restore the TPM state from a backup, or accept a new TPM with --new-tpm (docs/tpm-state.md)"});
      continue;
    }
    const fs::path lock = dir.string() + ".lock";
    const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        std::string who = first_line_of("head -n1 " + lock.string());
        out.push_back({name + " lock", "warn", "in use by " + who + ": commands on this state wait for it", "wait for it to finish"});
      }
      ::close(fd);
    }
  }
  if (out.empty()) out.push_back({"state", "ok", state.string() + ": no TPM made here yet", ""});
  return out;
}

}  // namespace

void register_doctor(CLI::App& app, int& exit_code) {
  auto state = std::make_shared<std::string>();
  auto json_out = std::make_shared<bool>(false);
  CLI::App* c = app.add_subcommand("doctor", "Check this machine: images, TPM backends, QEMU, tools, a state directory; say what to fix");
  c->add_option("--state", *state, "State directory to check (default: as the other commands choose it)");
  c->add_flag("--json", *json_out, "JSON on stdout: {checks: [{check, status, detail, fix}], summary}");
  c->callback([state, json_out, &exit_code] {
    std::vector<Finding> f;
    f.push_back(images());
    f.push_back(inproc_tpm());
    f.push_back(tool("swtpm", "swtpm", "swtpm --version", "--tpm swtpm and --platform qemu", "swtpm swtpm-tools"));
    f.push_back(tool("QEMU", "qemu-system-x86_64", "qemu-system-x86_64 --version", "--platform qemu", "qemu-system-x86"));
    f.push_back(tool("tpm2-tools", "tpm2_eventlog", "tpm2_eventlog --version", "the tpm2-tools oracle checks (docs/attestation.md)", "tpm2-tools"));
    f.push_back(tool("Bochs", "bochs", "bochs -help 2>&1 | grep -m1 Bochs", "the VMX oracle (docs/intel.md)", "bochs bochsbios vgabios"));
    for (Finding& s : state_health(state_dir(*state))) f.push_back(s);
    unsigned fails = 0, warns = 0;
    for (const Finding& x : f) {
      if (x.status == "fail") ++fails;
      if (x.status == "warn") ++warns;
    }
    if (*json_out) {
      nlohmann::json j = {{"checks", nlohmann::json::array()}};
      for (const Finding& x : f) j["checks"].push_back({{"check", x.check}, {"status", x.status}, {"detail", x.detail}, {"fix", x.fix}});
      j["summary"] = {{"fail", fails}, {"warn", warns}, {"ok", f.size() - fails - warns}};
      std::cout << j.dump(2) << "\n";
    } else {
      for (const Finding& x : f) {
        std::cout << std::left << std::setw(6) << (x.status == "ok" ? "ok" : x.status == "warn" ? "WARN" : "FAIL") << std::setw(22)
                  << x.check << x.detail << "\n";
        if (!x.fix.empty()) std::cout << std::setw(28) << "" << "fix: " << x.fix << "\n";
      }
      std::cout << fails << " failure(s), " << warns << " warning(s)\n";
    }
    exit_code = fails ? kExitEnv : warns ? kExitWarning : kExitOk;
  });
}

}  // namespace redoubt::tools
