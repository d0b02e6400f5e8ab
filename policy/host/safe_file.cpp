#include "policy/host/safe_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace redoubt::policy {
namespace {

// "HEAD: strerror (DETAIL)".
bool fail(FileError& e, int err, const std::string& head, const std::string& detail = "") {
  e.err = err;
  e.what = head + ": " + std::strerror(err) + (detail.empty() ? "" : " (" + detail + ")");
  return false;
}

// write(2) until everything is out; a short write is retried, 0 bytes written is EIO.
int write_all(int fd, const uint8_t* p, size_t n) {
  while (n) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0) return EIO;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

// A device or FIFO at the destination: it cannot be replaced, only written.
bool write_in_place(const std::string& path, std::span<const uint8_t> data, FileError& e) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail(e, errno, "cannot write " + path, "opening it");
  if (int err = write_all(fd, data.data(), data.size())) {
    ::close(fd);
    return fail(e, err, "cannot write " + path);
  }
  if (::close(fd) != 0) return fail(e, errno, "cannot write " + path, "closing it");
  return true;
}

}  // namespace

std::string size_text(uint64_t b) {
  if (b >= (1ull << 30) && b % (1ull << 30) == 0) return std::to_string(b >> 30) + " GiB";
  if (b >= (1ull << 20) && b % (1ull << 20) == 0) return std::to_string(b >> 20) + " MiB";
  if (b >= (1ull << 10) && b % (1ull << 10) == 0) return std::to_string(b >> 10) + " KiB";
  return std::to_string(b) + " bytes";
}

bool write_file_atomic(const std::string& path_in, std::span<const uint8_t> data, mode_t mode, FileError& e) {
  if (path_in.empty()) return fail(e, ENOENT, "cannot write an output with an empty file name");
  // Through a symlink: replace what it points to, not the link (the temporary file goes next to the target).
  std::string path = path_in;
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
    if (char* real = ::realpath(path.c_str(), nullptr)) {
      path = real;
      std::free(real);
    }
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return fail(e, EISDIR, "cannot write " + path);
    if (!S_ISREG(st.st_mode)) return write_in_place(path, data, e);
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) return fail(e, EISDIR, "cannot write " + path);
  // Hidden, unique (mkostemp: O_EXCL, mode 0600 until fchmod) and short enough for NAME_MAX.
  std::string tmp = (dir == "/" ? "" : dir) + "/." + base.substr(0, 200) + ".tmp-XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return fail(e, errno, "cannot write " + path, "creating a temporary file in " + dir + "; " + path + " is unchanged");
  auto abandon = [&](int err, const char* step, bool open) {
    if (open) ::close(fd);
    ::unlink(tmp.c_str());
    return fail(e, err, "cannot write " + path, std::string(step) + "; " + path + " is unchanged");
  };
  if (::fchmod(fd, mode) != 0) return abandon(errno, "setting the mode of the temporary file", true);
  if (int err = write_all(fd, data.data(), data.size())) return abandon(err, "writing the temporary file", true);
  if (::fsync(fd) != 0) return abandon(errno, "flushing the temporary file to disk", true);
  if (::close(fd) != 0) return abandon(errno, "closing the temporary file", false);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return abandon(errno, "renaming the temporary file into place", false);
  // The rename itself must reach the disk too (POSIX: fsync of the directory).
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return fail(e, errno, "wrote " + path + " but cannot open its directory to sync it");
  const int synced = ::fsync(dfd) == 0 ? 0 : errno;
  ::close(dfd);
  if (synced && synced != EINVAL)  // EINVAL: a file system without directory sync
    return fail(e, synced, "wrote " + path + " but syncing its directory " + dir + " failed");
  return true;
}

bool read_file_limited(const std::string& path, uint64_t max_bytes, const char* kind, std::string& out, FileError& e) {
  out.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(e, errno, "cannot read " + path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(e, err, "cannot read " + path);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return fail(e, EISDIR, "cannot read " + path);
  }
  const std::string over = path + ": the " + kind + " is ";
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    e.err = EFBIG;
    e.what = over + std::to_string(st.st_size) + " bytes, over the limit of " + size_text(max_bytes) + " for a " + kind;
    return false;
  }
  if (S_ISREG(st.st_mode)) out.reserve(static_cast<size_t>(st.st_size));
  // Bounded even for a regular file: it may grow while we read, and a pipe has no size.
  char buf[65536];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int err = errno;
      ::close(fd);
      out.clear();
      return fail(e, err, "cannot read " + path);
    }
    if (r == 0) break;
    if (out.size() + static_cast<size_t>(r) > max_bytes) {
      ::close(fd);
      out.clear();
      e.err = EFBIG;
      e.what = over + "more than " + size_text(max_bytes) + ", the limit for a " + kind;
      return false;
    }
    out.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  return true;
}

}  // namespace redoubt::policy
