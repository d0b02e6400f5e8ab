// Shared helpers of the `redoubt` command line: files, paths, exit codes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace redoubt::tools {

// Exit codes (docs/running.md, "Exit codes"): 0 success / launched, 1 refused or
// verification failed, 2 usage error (also a malformed number), 3 environment,
// input or output error (missing or oversized file, TPM, an output that could not
// be written: disk full, read-only, ...; also lost TPM state, docs/tpm-state.md).
// 4: a verdict that is only a warning (`attest`: status "warning"); 5: no current answer
// (`attest`: the verifier unreachable, or its verdict older than --max-age).
enum Exit : int { kExitOk = 0, kExitRefused = 1, kExitUsage = 2, kExitEnv = 3, kExitWarning = 4, kExitStale = 5 };

// An error the user must fix (bad path, unreadable file): exit code 3.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An output that could not be written (names the file, the step and errno): exit code 3.
class OutputError : public InputError {
 public:
  using InputError::InputError;
};

// What a command reads, and the most of it that it accepts: the size is checked
// (fstat, then a bounded read) before the bytes are read (docs/running.md,
// "Input size limits"). The limits are what the machine can place (tools/input_kinds.cpp).
struct InputKind {
  const char* name;
  uint64_t max_bytes;
};
namespace input {
extern const InputKind kSlImage, kHvImage, kHvManifest, kLaunchPolicy, kGuestKernel, kGuestInitrd, kGuestManifest,
    kManifest, kEventLog, kVerifierInput;
}  // namespace input

std::vector<uint8_t> read_file(const std::filesystem::path& p, const InputKind& kind);  // throws InputError naming the path
// Atomic replacement (temporary file, fsync, rename, directory fsync); throws OutputError.
void write_file(const std::filesystem::path& p, const std::vector<uint8_t>& data);
void write_text(const std::filesystem::path& p, const std::string& text);
// No silent overwrite of keys, policies, manifests (docs/running.md "Outputs"): throws
// InputError (exit 3) naming the first of `paths` that exists, unless `force`.
void refuse_overwrite(const std::vector<std::filesystem::path>& paths, bool force, const std::string& what);
// The parent directory of `p`, created with its parents; throws OutputError naming it.
void make_parent_dir(const std::filesystem::path& p);

// The directory holding the running `redoubt` binary (build/), where the
// build leaves sl.bin and hv.bin.
std::filesystem::path build_dir();
// --state, else $REDOUBT_STATE_DIR, else $XDG_STATE_HOME/redoubt, else ~/.local/state/redoubt.
std::filesystem::path state_dir(const std::string& opt);

std::string hex(const uint8_t* p, size_t n);
inline std::string hex(const std::vector<uint8_t>& v) { return hex(v.data(), v.size()); }

}  // namespace redoubt::tools
