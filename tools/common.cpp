#include "tools/common.hpp"

#include <cstdlib>

#include "policy/host/safe_file.hpp"

namespace redoubt::tools {

std::vector<uint8_t> read_file(const std::filesystem::path& p, const InputKind& kind) {
  std::string bytes;
  policy::FileError e;
  if (!policy::read_file_limited(p.string(), kind.max_bytes, kind.name, bytes, e)) throw InputError(e.what);
  return {bytes.begin(), bytes.end()};
}

void make_parent_dir(const std::filesystem::path& p) {
  if (!p.has_parent_path()) return;
  std::error_code ec;
  std::filesystem::create_directories(p.parent_path(), ec);
  if (ec) throw OutputError("cannot write " + p.string() + ": cannot create its directory " + p.parent_path().string() + ": " + ec.message());
}

void refuse_overwrite(const std::vector<std::filesystem::path>& paths, bool force, const std::string& what) {
  if (force) return;
  for (const auto& p : paths) {
    std::error_code ec;
    // A device or FIFO (/dev/null, /dev/full) is written in place, never replaced: not refused.
    const auto st = std::filesystem::status(p, ec);
    if (std::filesystem::is_regular_file(st) || std::filesystem::is_directory(st))
      throw InputError(p.string() + " exists: not replacing " + what + " (--force replaces it)");
  }
}

void write_file(const std::filesystem::path& p, const std::vector<uint8_t>& data) {
  make_parent_dir(p);
  policy::FileError e;
  if (!policy::write_file_atomic(p.string(), data, 0644, e)) throw OutputError(e.what);
}

void write_text(const std::filesystem::path& p, const std::string& text) {
  write_file(p, std::vector<uint8_t>(text.begin(), text.end()));
}

std::filesystem::path build_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::filesystem::current_path();
  // A test linking the tools in-process (tests/...): its directory holds no images; ctest names the
  // build directory in REDOUBT_BUILD_DIR (cmake/testing.cmake).
  if (!std::filesystem::exists(exe.parent_path() / "hv.bin", ec)) {
    if (const char* b = std::getenv("REDOUBT_BUILD_DIR"); b && *b) return std::filesystem::path(b);
    // Installed (cmake/install.cmake): PREFIX/bin/redoubt with the images in PREFIX/lib/redoubt.
    const auto installed = exe.parent_path().parent_path() / "lib" / "redoubt";
    if (std::filesystem::exists(installed / "hv.bin", ec)) return installed;
  }
  return exe.parent_path();
}

std::filesystem::path state_dir(const std::string& opt) {
  if (!opt.empty()) return std::filesystem::absolute(opt);
  if (const char* e = std::getenv("REDOUBT_STATE_DIR"); e && *e) return std::filesystem::absolute(e);
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::filesystem::path(x) / "redoubt";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".local/state/redoubt";
  return std::filesystem::current_path() / ".redoubt-state";
}

std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  return s;
}

}  // namespace redoubt::tools
