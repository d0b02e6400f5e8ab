#include "tpm/swtpm_qemu_bridge.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "tpm/swtpm_ctrl.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::tpm {

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kTpmFail = 0x09;         // TPM_FAIL (tpm_ioctl.h results are TPM 1.2 codes)
constexpr uint32_t kTpmBadParameter = 0x03;  // TPM_BAD_PARAMETER
constexpr uint32_t kTpmBadOrdinal = 0x0a;    // TPM_BAD_ORDINAL
constexpr uint32_t kTpmIoError = 0x1f;       // TPM_IOERROR
constexpr size_t kMaxTpmFrame = 64 * 1024;   // far above swtpm's 4 KiB buffer
constexpr size_t kMaxCtrlLog = 4096;

uint32_t be32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; }
void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  v.push_back(uint8_t(x >> 24));
  v.push_back(uint8_t(x >> 16));
  v.push_back(uint8_t(x >> 8));
  v.push_back(uint8_t(x));
}

std::string hex(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", v);
  return b;
}

std::string ctrl_name(uint32_t cmd) {
  static const char* const kNames[] = {"?",
                                       "CMD_GET_CAPABILITY",
                                       "CMD_INIT",
                                       "CMD_SHUTDOWN",
                                       "CMD_GET_TPMESTABLISHED",
                                       "CMD_SET_LOCALITY",
                                       "CMD_HASH_START",
                                       "CMD_HASH_DATA",
                                       "CMD_HASH_END",
                                       "CMD_CANCEL_TPM_CMD",
                                       "CMD_STORE_VOLATILE",
                                       "CMD_RESET_TPMESTABLISHED",
                                       "CMD_GET_STATEBLOB",
                                       "CMD_SET_STATEBLOB",
                                       "CMD_STOP",
                                       "CMD_GET_CONFIG",
                                       "CMD_SET_DATAFD",
                                       "CMD_SET_BUFFERSIZE",
                                       "CMD_GET_INFO",
                                       "CMD_LOCK_STORAGE"};
  return cmd >= 1 && cmd <= 0x13 ? kNames[cmd] : "control command " + hex(cmd);
}

// Outcome of a bounded read or write.
enum class Io { ok, eof, timeout, error };

std::string io_text(Io r, int err) {
  switch (r) {
    case Io::ok: return "ok";
    case Io::eof: return "connection closed";
    case Io::timeout: return "timed out";
    case Io::error: return std::strerror(err);
  }
  return "?";
}

int ms_left(Clock::time_point deadline) {
  const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return d > 0 ? static_cast<int>(d) : 0;
}

// Reads exactly n bytes within timeout_ms. With fds != nullptr, uses recvmsg and collects any
// SCM_RIGHTS descriptors (close-on-exec). eof only if the peer closed before n bytes.
Io read_full(int fd, uint8_t* buf, size_t n, int timeout_ms, int* err, std::vector<int>* fds = nullptr) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t got = 0;
  while (got < n) {
    pollfd p{fd, POLLIN, 0};
    const int pr = ::poll(&p, 1, ms_left(deadline));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) {
      *err = errno;
      return Io::error;
    }
    if (pr == 0) return Io::timeout;
    ssize_t r;
    if (fds) {
      iovec iov{buf + got, n - got};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      r = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
      if (r > 0) {
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
          const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          for (size_t i = 0; i < k; ++i) {
            int f;
            std::memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
            fds->push_back(f);
          }
        }
      }
    } else {
      r = ::recv(fd, buf + got, n - got, 0);
    }
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r < 0) {
      *err = errno;
      return Io::error;
    }
    if (r == 0) return Io::eof;
    got += r;
  }
  return Io::ok;
}

Io write_full(int fd, const uint8_t* p, size_t n, int timeout_ms, int* err, int pass_fd = -1) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t put = 0;
  while (put < n) {
    pollfd pf{fd, POLLOUT, 0};
    const int pr = ::poll(&pf, 1, ms_left(deadline));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) {
      *err = errno;
      return Io::error;
    }
    if (pr == 0) return Io::timeout;
    ssize_t w;
    if (pass_fd >= 0 && put == 0) {
      iovec iov{const_cast<uint8_t*>(p), n};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &pass_fd, sizeof pass_fd);
      w = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    } else {
      w = ::send(fd, p + put, n - put, MSG_NOSIGNAL);
    }
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (w < 0) {
      *err = errno;
      return Io::error;
    }
    put += w;
  }
  return Io::ok;
}

// Request body length of a control command as QEMU (and swtpm_ioctl) send it, after the
// 4-byte code; -1 for the ones with variable or special framing.
int fixed_request_body(uint32_t cmd) {
  switch (cmd) {
    case kSwtpmGetCapability:
    case kSwtpmShutdown:
    case kSwtpmGetTpmEstablished:
    case kSwtpmHashStart:
    case kSwtpmHashEnd:
    case kSwtpmCancelTpmCmd:
    case kSwtpmStoreVolatile:
    case kSwtpmStop:
    case kSwtpmGetConfig:
    case kSwtpmSetDataFd:
      return 0;
    case kSwtpmInit:           // ptm_init.u.req
    case kSwtpmSetBufferSize:  // ptm_setbuffersize.u.req
    case kSwtpmLockStorage:    // ptm_lockstorage.u.req
      return 4;
    case kSwtpmGetStateBlob:  // ptm_getstate.u.req
      return 12;
    case kSwtpmGetInfo:  // ptm_getinfo.u.req
      return 16;
    default:
      return -1;  // SET_LOCALITY / RESET_TPMESTABLISHED (1..4), HASH_DATA, SET_STATEBLOB, unknown
  }
}

}  // namespace

SwtpmQemuBridge::SwtpmQemuBridge(const Options& options) : opt_(options) {
  proc_ = std::make_unique<SwtpmProcess>(opt_.state_dir, opt_.setup_config, SwtpmProcess::Transport::unix_ctrl);
  pid_ = proc_->pid();
  ctrl_ = proc_->ctrl_fd();
  try {
    // Our data channel, given to swtpm once and kept for its whole life.
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      fail("swtpm bridge: data socketpair", std::strerror(errno));
    data_ = sv[0];
    {
      const uint8_t req[4] = {0, 0, 0, kSwtpmSetDataFd};
      int err = 0;
      Io w = write_full(ctrl_, req, 4, opt_.ctrl_timeout_ms, &err, sv[1]);
      ::close(sv[1]);
      if (w != Io::ok) fail("CMD_SET_DATAFD (the bridge's data channel)", io_text(w, err));
      uint8_t res[4];
      Io r = read_full(ctrl_, res, 4, opt_.ctrl_timeout_ms, &err);
      if (r != Io::ok) fail("CMD_SET_DATAFD (the bridge's data channel)", io_text(r, err));
      if (be32(res) != 0) fail("CMD_SET_DATAFD (the bridge's data channel)", "swtpm result " + hex(be32(res)));
    }
    // The socket QEMU connects to.
    socket_path_ = proc_->run_dir() + "/qemu-ctrl.sock";
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof a.sun_path) fail("swtpm bridge: socket path", "too long: " + socket_path_);
    std::memcpy(a.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
    listen_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_ < 0 || ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_, 4) != 0)
      fail("swtpm bridge: listen on " + socket_path_, std::strerror(errno));
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) fail("swtpm bridge: pipe", std::strerror(errno));
    relay_ = std::thread([this] { relay_loop(); });
  } catch (...) {
    if (listen_ >= 0) ::close(listen_);
    if (data_ >= 0) ::close(data_);
    for (int& f : wake_)
      if (f >= 0) ::close(f);
    proc_.reset();
    throw;
  }
}

SwtpmQemuBridge::~SwtpmQemuBridge() {
  if (relay_.joinable()) {
    const char c = 'q';
    (void)!::write(wake_[1], &c, 1);
    relay_.join();
  }
  {
    std::lock_guard<std::mutex> l(state_mu_);
    detach_locked();
  }
  if (listen_ >= 0) ::close(listen_);
  if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
  if (data_ >= 0) ::close(data_);
  for (int f : wake_)
    if (f >= 0) ::close(f);
  proc_.reset();  // CMD_SHUTDOWN on the control channel, SIGTERM, SIGKILL; reaps; removes the run dir
}

std::vector<std::string> SwtpmQemuBridge::qemu_args() const {
  return {"-chardev", "socket,id=chrtpm,path=" + socket_path_, "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
          "-device", "tpm-tis,tpmdev=tpm0"};
}

bool SwtpmQemuBridge::qemu_attached() const {
  std::lock_guard<std::mutex> l(state_mu_);
  return attached_;
}

bool SwtpmQemuBridge::wait_attached(int timeout_ms) const {
  std::unique_lock<std::mutex> l(state_mu_);
  return state_cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [this] { return attached_; });
}

bool SwtpmQemuBridge::wait_detached(int timeout_ms) const {
  std::unique_lock<std::mutex> l(state_mu_);
  return state_cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [this] { return !attached_; });
}

SwtpmQemuBridge::QemuStats SwtpmQemuBridge::stats() const {
  std::lock_guard<std::mutex> l(state_mu_);
  return stats_;
}

std::string SwtpmQemuBridge::failure() const {
  std::lock_guard<std::mutex> l(state_mu_);
  return failure_;
}

std::string SwtpmQemuBridge::refusal() const {
  std::lock_guard<std::mutex> l(state_mu_);
  if (!failure_.empty()) return failure_;
  if (attached_)
    return "QEMU is attached to the swtpm bridge (swtpm pid " + std::to_string(pid_) +
           "): the harness's TPM path is unavailable until QEMU has exited (then SwtpmBridgeTpm::resume_after_qemu)";
  return "";
}

void SwtpmQemuBridge::check_healthy() const {
  std::lock_guard<std::mutex> l(state_mu_);
  if (!failure_.empty()) throw TpmError("swtpm bridge is unusable after an earlier failure: " + failure_);
}

void SwtpmQemuBridge::check_harness_allowed() const {
  const std::string why = refusal();
  if (!why.empty()) throw TpmError(why);
}

void SwtpmQemuBridge::fail(const std::string& step, const std::string& why) {
  std::string msg = step + ": " + why;
  std::string ended;
  if (proc_) {
    // A connection reset often arrives before the dying child can be reaped: give it a moment.
    const auto until = Clock::now() + std::chrono::milliseconds(300);
    while ((ended = proc_->exit_reason()).empty() && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    msg += "; " + (ended.empty() ? "swtpm pid " + std::to_string(pid_) + " is still running" : ended);
    msg += "; swtpm log: " + proc_->log_tail();
  }
  {
    std::lock_guard<std::mutex> l(state_mu_);
    if (failure_.empty()) failure_ = msg;
  }
  throw TpmError(msg);
}

// --- swtpm conversations (tpm_mu_ held) ---

std::vector<uint8_t> SwtpmQemuBridge::swtpm_ctrl(uint32_t cmd, const std::vector<uint8_t>& body, const char* step) {
  std::vector<uint8_t> req;
  put_be32(req, cmd);
  req.insert(req.end(), body.begin(), body.end());
  int err = 0;
  // One write per request: swtpm takes a control message from what one read returns.
  Io w = write_full(ctrl_, req.data(), req.size(), opt_.ctrl_timeout_ms, &err);
  if (w != Io::ok) fail(std::string(step) + " (" + ctrl_name(cmd) + ") to swtpm", io_text(w, err));
  std::vector<uint8_t> resp;
  auto more = [&](size_t k) {
    const size_t at = resp.size();
    resp.resize(at + k);
    Io r = read_full(ctrl_, resp.data() + at, k, opt_.ctrl_timeout_ms, &err);
    if (r != Io::ok) fail(std::string(step) + " (" + ctrl_name(cmd) + "): reply from swtpm", io_text(r, err));
  };
  more(cmd == kSwtpmGetCapability ? 8 : 4);
  const uint32_t res = be32(resp.data());
  // Error replies are the bare 4-byte ptm_res (swtpm ctrlchannel.c), except as noted.
  switch (cmd) {
    case kSwtpmGetTpmEstablished:  // ptm_est.u.resp is sent whole whatever the TPM result...
      if (res != kTpmBadOrdinal && res != kTpmBadParameter) more(4);  // ...unless not running / bad input
      break;
    case kSwtpmGetConfig:
      if (res == 0) more(4);
      break;
    case kSwtpmSetBufferSize:
      if (res == 0) more(12);
      break;
    case kSwtpmGetInfo:
      if (res == 0) {
        more(8);
        const uint32_t len = be32(resp.data() + 8);
        if (len > kMaxTpmFrame) fail(std::string(step) + " (CMD_GET_INFO)", "swtpm announced " + std::to_string(len) + " bytes");
        more(len);
      }
      break;
    default:
      break;
  }
  return resp;
}

uint32_t SwtpmQemuBridge::swtpm_ctrl_checked(uint32_t cmd, const std::vector<uint8_t>& body, const char* step) {
  const std::vector<uint8_t> resp = swtpm_ctrl(cmd, body, step);
  const uint32_t res = be32(resp.data());
  if (res != 0)
    throw TpmError(std::string(step) + ": " + ctrl_name(cmd) + " on the swtpm bridge: swtpm result " + hex(res), res);
  return res;
}

std::vector<uint8_t> SwtpmQemuBridge::swtpm_data(const uint8_t* cmd, size_t n, const char* step) {
  int err = 0;
  Io w = write_full(data_, cmd, n, opt_.data_timeout_ms, &err);
  if (w != Io::ok) fail(std::string(step) + ": TPM command to swtpm", io_text(w, err));
  std::vector<uint8_t> resp(10);
  Io r = read_full(data_, resp.data(), 10, opt_.data_timeout_ms, &err);
  if (r != Io::ok) fail(std::string(step) + ": TPM response header from swtpm", io_text(r, err));
  const uint32_t size = be32(resp.data() + 2);
  if (size < 10 || size > kMaxTpmFrame)
    fail(std::string(step) + ": TPM response from swtpm", "header size " + std::to_string(size));
  resp.resize(size);
  if (size > 10) {
    r = read_full(data_, resp.data() + 10, size - 10, opt_.data_timeout_ms, &err);
    if (r != Io::ok) fail(std::string(step) + ": TPM response body from swtpm", io_text(r, err));
  }
  return resp;
}

// --- the harness's side ---

void SwtpmQemuBridge::drtm_hash(const uint8_t* data, size_t n) {
  std::lock_guard<std::mutex> l(tpm_mu_);
  check_healthy();
  swtpm_ctrl_checked(kSwtpmHashStart, {}, "DRTM hash start");
  // No TPM command can reach swtpm until HASH_END: we hold tpm_mu_, QEMU's are relayed under it.
  while (n > 0) {
    const size_t chunk = n < kSwtpmHashChunk ? n : kSwtpmHashChunk;
    std::vector<uint8_t> body;
    body.reserve(4 + chunk);
    put_be32(body, static_cast<uint32_t>(chunk));
    body.insert(body.end(), data, data + chunk);
    swtpm_ctrl_checked(kSwtpmHashData, body, "DRTM hash data");
    data += chunk;
    n -= chunk;
  }
  swtpm_ctrl_checked(kSwtpmHashEnd, {}, "DRTM hash end");
}

std::vector<uint8_t> SwtpmQemuBridge::harness_transmit(const uint8_t* cmd, size_t n) {
  std::lock_guard<std::mutex> l(tpm_mu_);
  check_harness_allowed();
  if (n < 10 || be32(cmd + 2) != n) throw TpmError("swtpm bridge: malformed TPM command frame of " + std::to_string(n) + " bytes");
  return swtpm_data(cmd, n, "harness TPM command");
}

void SwtpmQemuBridge::harness_set_locality(uint8_t locality) {
  std::lock_guard<std::mutex> l(tpm_mu_);
  check_harness_allowed();
  swtpm_ctrl_checked(kSwtpmSetLocality, {locality}, "set locality");
}

void SwtpmQemuBridge::harness_init(bool delete_volatile) {
  std::lock_guard<std::mutex> l(tpm_mu_);
  check_harness_allowed();
  std::vector<uint8_t> body;
  put_be32(body, delete_volatile ? kSwtpmInitFlagDeleteVolatile : 0);
  swtpm_ctrl_checked(kSwtpmInit, body, "power on");
}

// --- the relay thread ---

void SwtpmQemuBridge::detach_locked() {
  if (qemu_data_ >= 0) ::close(qemu_data_);
  qemu_data_ = -1;
  if (qemu_ctrl_ >= 0) {
    ::close(qemu_ctrl_);
    qemu_ctrl_ = -1;
    ++stats_.detaches;
  }
  attached_ = false;
  state_cv_.notify_all();
}

void SwtpmQemuBridge::relay_loop() {
  for (;;) {
    pollfd p[4] = {{wake_[0], POLLIN, 0}, {listen_, POLLIN, 0}, {qemu_ctrl_, POLLIN, 0}, {qemu_data_, POLLIN, 0}};
    const int pr = ::poll(p, 4, -1);
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0 || p[0].revents) return;
    if (p[1].revents & POLLIN) {
      const int c = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        std::lock_guard<std::mutex> l(state_mu_);
        if (qemu_ctrl_ >= 0 || !failure_.empty()) {
          ::close(c);  // one QEMU at a time; none once swtpm is gone
          ++stats_.rejected;
        } else {
          qemu_ctrl_ = c;
          attached_ = true;
          ++stats_.attaches;
          state_cv_.notify_all();
        }
      }
    }
    bool keep = true;
    try {
      if (p[2].fd >= 0 && p[2].revents) keep = handle_qemu_ctrl();
      if (keep && p[3].fd >= 0 && p[3].revents && qemu_data_ >= 0) keep = handle_qemu_data();
    } catch (const std::exception&) {
      keep = false;  // swtpm failed (failure_ is set): QEMU's TPM is gone with it
    }
    if (!keep) {
      std::lock_guard<std::mutex> l(state_mu_);
      detach_locked();
    }
  }
}

// One control command from QEMU. false: detach QEMU (closed, or a protocol error).
bool SwtpmQemuBridge::handle_qemu_ctrl() {
  uint8_t code[4];
  std::vector<int> fds;
  int err = 0;
  if (read_full(qemu_ctrl_, code, 4, opt_.qemu_read_timeout_ms, &err, &fds) != Io::ok) {
    for (int f : fds) ::close(f);
    return false;
  }
  const uint32_t cmd = be32(code);
  std::vector<uint8_t> body;
  auto take = [&](size_t k) {
    const size_t at = body.size();
    body.resize(at + k);
    return k == 0 || read_full(qemu_ctrl_, body.data() + at, k, opt_.qemu_read_timeout_ms, &err, &fds) == Io::ok;
  };
  bool ok = true;
  const int fixed = fixed_request_body(cmd);
  if (fixed >= 0) {
    ok = take(fixed);
  } else if (cmd == kSwtpmSetLocality || cmd == kSwtpmResetTpmEstablished) {
    // One meaningful byte; QEMU sends the whole 4-byte union, swtpm_ioctl only the byte.
    ok = take(1);
    if (ok) {
      uint8_t pad[3];
      const ssize_t r = ::recv(qemu_ctrl_, pad, sizeof pad, MSG_DONTWAIT);
      if (r > 0) body.insert(body.end(), pad, pad + r);
    }
  } else if (cmd == kSwtpmHashData) {
    ok = take(4) && be32(body.data()) <= kSwtpmHashChunk && take(be32(body.data()));
  } else if (cmd == kSwtpmSetStateBlob) {
    ok = take(12) && be32(body.data() + 8) <= (16u << 20) && take(be32(body.data() + 8));
  } else {
    ok = false;  // unknown: its length is unknown, so the stream cannot be followed
  }
  {
    std::lock_guard<std::mutex> l(state_mu_);
    ++stats_.ctrl_commands[cmd];
    if (stats_.ctrl_log.size() < kMaxCtrlLog) stats_.ctrl_log.push_back(cmd);
  }
  if (!ok) {
    for (int f : fds) ::close(f);
    return false;
  }

  std::vector<uint8_t> reply;
  auto local = [&](uint32_t res, size_t extra_zero_bytes = 0) {
    put_be32(reply, res);
    reply.resize(reply.size() + extra_zero_bytes, 0);
  };
  if (cmd == kSwtpmSetDataFd) {
    std::lock_guard<std::mutex> l(state_mu_);
    if (fds.size() == 1 && qemu_data_ < 0) {
      qemu_data_ = fds[0];
      fds.clear();
      local(0);
    } else {
      local(fds.empty() ? kTpmBadParameter : kTpmIoError);  // what swtpm answers in these cases
    }
  } else if (cmd == kSwtpmShutdown) {
    local(0);  // swtpm and the PCRs of this run stay for the harness
  } else if (cmd == kSwtpmGetStateBlob) {
    local(kTpmFail, 12);  // ptm_getstate.u.resp header: flags, totlength, length = 0
  } else if (cmd == kSwtpmSetStateBlob) {
    local(kTpmFail);
  } else {
    std::lock_guard<std::mutex> l(tpm_mu_);
    check_healthy();
    reply = swtpm_ctrl(cmd, body, "QEMU's control command");
  }
  for (int f : fds) ::close(f);
  return write_full(qemu_ctrl_, reply.data(), reply.size(), opt_.qemu_read_timeout_ms, &err) == Io::ok;
}

// One TPM command from QEMU's data channel. false: detach QEMU.
bool SwtpmQemuBridge::handle_qemu_data() {
  std::vector<uint8_t> cmd(10);
  int err = 0;
  Io r = read_full(qemu_data_, cmd.data(), 10, opt_.qemu_read_timeout_ms, &err);
  if (r == Io::eof) {  // QEMU closed its data channel (exiting): keep the control connection
    std::lock_guard<std::mutex> l(state_mu_);
    ::close(qemu_data_);
    qemu_data_ = -1;
    return true;
  }
  if (r != Io::ok) return false;
  const uint32_t size = be32(cmd.data() + 2);
  if (size < 10 || size > kMaxTpmFrame) return false;
  cmd.resize(size);
  if (size > 10 && read_full(qemu_data_, cmd.data() + 10, size - 10, opt_.qemu_read_timeout_ms, &err) != Io::ok)
    return false;
  std::vector<uint8_t> resp;
  {
    std::lock_guard<std::mutex> l(tpm_mu_);
    check_healthy();
    resp = swtpm_data(cmd.data(), cmd.size(), "QEMU's TPM command");
  }
  {
    std::lock_guard<std::mutex> l(state_mu_);
    ++stats_.tpm_commands;
  }
  return write_full(qemu_data_, resp.data(), resp.size(), opt_.qemu_read_timeout_ms, &err) == Io::ok;
}

}  // namespace redoubt::tpm
