// The swtpm QEMU bridge without QEMU: the harness's TpmDevice (provisioning, DRTM, PCRs in
// every bank against OpenSSL), a scripted client speaking QEMU's side of the control protocol
// (tpm_emulator.c's framing, CMD_SET_DATAFD with SCM_RIGHTS), and failures (dead swtpm).
#define BOOST_TEST_MODULE tpm_swtpm_bridge
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "tests/platform/sim/tpm_test_util.hpp"
#include "tpm/swtpm_bridge_tpm.hpp"
#include "tpm/swtpm_ctrl.hpp"
#include "tpm/swtpm_qemu_bridge.hpp"

using namespace redoubt;
using namespace redoubt::tpm;
using namespace tpmtest;

namespace {

constexpr uint32_t kNv = 0x01500031;

bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

// QEMU's side of the control channel (backends/tpm/tpm_emulator.c), scripted.
class FakeQemu {
 public:
  explicit FakeQemu(const std::string& path) {
    ctrl_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (::connect(ctrl_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
    timeval tv{10, 0};
    ::setsockopt(ctrl_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~FakeQemu() { close(); }
  void close() {
    if (data_ >= 0) ::close(data_);
    if (ctrl_ >= 0) ::close(ctrl_);
    data_ = ctrl_ = -1;
  }
  // CMD_SET_DATAFD: a socketpair, one end passed with SCM_RIGHTS (qemu_chr_fe_set_msgfds).
  uint32_t set_datafd() {
    int sv[2];
    ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    uint8_t cmd[4] = {0, 0, 0, kSwtpmSetDataFd};
    iovec iov{cmd, 4};
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
    std::memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
    if (::sendmsg(ctrl_, &msg, MSG_NOSIGNAL) != 4) throw std::runtime_error("sendmsg");
    ::close(sv[1]);
    if (data_ >= 0) {  // a second CMD_SET_DATAFD: keep the first channel
      ::close(sv[0]);
      return be32(read_n(ctrl_, 4).data());
    }
    data_ = sv[0];
    timeval tv{10, 0};
    ::setsockopt(data_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return be32(read_n(ctrl_, 4).data());
  }
  // A control command with QEMU's request body; returns resp_len reply bytes.
  Bytes ctrl(uint32_t cmd, const Bytes& body, size_t resp_len) {
    Bytes req = {uint8_t(cmd >> 24), uint8_t(cmd >> 16), uint8_t(cmd >> 8), uint8_t(cmd)};
    req.insert(req.end(), body.begin(), body.end());
    if (::send(ctrl_, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) throw std::runtime_error("send");
    return read_n(ctrl_, resp_len);
  }
  // One TPM command on the data channel (tpm_emulator_unix_tx_bufs).
  Bytes tpm(const Bytes& cmd) {
    if (::send(data_, cmd.data(), cmd.size(), MSG_NOSIGNAL) != ssize_t(cmd.size())) throw std::runtime_error("send data");
    Bytes h = read_n(data_, 10);
    Bytes rest = read_n(data_, be32(h.data() + 2) - 10);
    return cat(h, rest);
  }
  static uint32_t be32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; }

 private:
  static Bytes read_n(int fd, size_t n) {
    Bytes b(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::recv(fd, b.data() + got, n - got, 0);
      if (r <= 0) throw std::runtime_error("fake QEMU: short read");
      got += r;
    }
    return b;
  }
  int ctrl_ = -1, data_ = -1;
};

// TPM2_PCR_Read(sha256: PCR17), raw.
Bytes pcr_read_17_sha256() {
  return {0x80, 0x01, 0, 0, 0, 20, 0, 0, 0x01, 0x7e, 0, 0, 0, 1, 0x00, 0x0b, 3, 0x00, 0x00, 0x02};
}
// TPM2_Startup(CLEAR), raw.
Bytes startup_clear() { return {0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0x00, 0x00}; }

}  // namespace

BOOST_AUTO_TEST_CASE(provision_drtm_and_read_back_every_bank) {
  auto bridge = std::make_shared<SwtpmQemuBridge>();
  SwtpmBridgeTpm tpm(bridge);
  BOOST_TEST(tpm.supports_drtm());
  BOOST_TEST(contains(tpm.describe(), "swtpm (QEMU bridge) pid " + std::to_string(bridge->swtpm_pid()) + " state "),
             tpm.describe());
  BOOST_TEST(std::filesystem::exists(bridge->qemu_socket_path()));

  tpm.nv_define_counter(kNv);
  tpm.nv_increment(kNv);
  BOOST_TEST(tpm.nv_read_counter(kNv).value() == 2u);

  const BankList banks = tpm.active_banks();
  BOOST_TEST_REQUIRE(banks.count >= 1u);
  auto pcrs = tpm.pcr_read({17, 18});
  for (uint32_t i = 0; i < banks.count; ++i) BOOST_TEST(pcrs[banks.alg[i]][17] == ones(banks.alg[i]));

  // 64 KiB: 16 CMD_HASH_DATA chunks of 4096, plus an odd tail through a second sequence.
  for (const Bytes& data : {slb_data(), Bytes(5000, 0x5a)}) {
    const auto t0 = std::chrono::steady_clock::now();
    tpm.drtm_hash(data.data(), data.size());
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    BOOST_TEST_MESSAGE("drtm_hash(" << data.size() << " B): " << ms << " ms");
    pcrs = tpm.pcr_read({17, 18, 19, 20, 21, 22});
    for (uint32_t i = 0; i < banks.count; ++i) {
      const HashAlg a = banks.alg[i];
      BOOST_TEST(pcrs[a][17] == drtm_pcr17(a, data), hash_alg_name(a));
      for (uint32_t p = 18; p <= 22; ++p) BOOST_TEST(pcrs[a][p] == zeros(a), hash_alg_name(a) << " pcr " << p);
    }
    BOOST_TEST(pcrs.count(HashAlg::sha256) == 1u);
  }

  // Localities are real (CMD_SET_LOCALITY through the bridge).
  const DigestList d = digests_of(banks, {'x'});
  try {
    tpm.pcr_extend(17, d);
    BOOST_FAIL("PCR17 extend at locality 0 succeeded");
  } catch (const TpmError& e) {
    BOOST_TEST(e.rc() == 0x907u);
  }
  tpm.set_locality(2);
  tpm.pcr_extend(17, d);
  tpm.set_locality(0);
  pcrs = tpm.pcr_read({17});
  BOOST_TEST(pcrs[HashAlg::sha256][17] ==
             extend(HashAlg::sha256, drtm_pcr17(HashAlg::sha256, Bytes(5000, 0x5a)), hash(HashAlg::sha256, {'x'})));

  // power_on = CMD_INIT + Startup: PCRs back to all-ones, the NV counter stays.
  tpm.power_on();
  pcrs = tpm.pcr_read({17});
  BOOST_TEST(pcrs[HashAlg::sha256][17] == ones(HashAlg::sha256));
  BOOST_TEST(tpm.nv_read_counter(kNv).value() == 2u);
  BOOST_TEST(bridge->stats().attaches == 0u);
}

BOOST_AUTO_TEST_CASE(scripted_qemu_is_relayed_and_fenced_off) {
  auto bridge = std::make_shared<SwtpmQemuBridge>();
  SwtpmBridgeTpm tpm(bridge);
  tpm.nv_define_counter(kNv);
  const Bytes slb = slb_data();
  {
    FakeQemu q(bridge->qemu_socket_path());
    BOOST_TEST_REQUIRE(bridge->wait_attached(5000));
    // Attached: the harness's ESAPI path is refused at once, with the reason.
    try {
      tpm.pcr_read({17});
      BOOST_FAIL("harness PCR read while QEMU attached succeeded");
    } catch (const TpmError& e) {
      BOOST_TEST_MESSAGE("expected: " << e.what());
      BOOST_TEST(contains(e.what(), "QEMU is attached to the swtpm bridge"), e.what());
      BOOST_TEST(e.rc() == 0xa000cu);  // TSS2_TCTI_RC_NOT_PERMITTED
    }
    BOOST_CHECK_THROW(tpm.set_locality(2), TpmError);
    BOOST_CHECK_THROW(tpm.power_on(), TpmError);
    // A second QEMU is turned away (connection closed), the first one is unaffected.
    {
      FakeQemu q2(bridge->qemu_socket_path());
      BOOST_CHECK_THROW(q2.ctrl(kSwtpmGetCapability, {}, 8), std::runtime_error);
    }

    // QEMU's start-up, as tpm_emulator.c does it.
    BOOST_TEST(q.set_datafd() == 0u);
    BOOST_TEST(q.set_datafd() == 0x1fu);  // a second data fd: TPM_IOERROR, like swtpm itself
    const Bytes caps = q.ctrl(kSwtpmGetCapability, {}, 8);
    BOOST_TEST((caps[6] & 0x10) != 0);  // PTM_CAP_SET_DATAFD (1 << 12)
    BOOST_TEST(FakeQemu::be32(q.ctrl(kSwtpmStop, {}, 4).data()) == 0u);
    const Bytes bs = q.ctrl(kSwtpmSetBufferSize, {0, 0, 0x10, 0}, 16);  // ptm_setbuffersize: result + 3 words
    BOOST_TEST(FakeQemu::be32(bs.data()) == 0u);
    BOOST_TEST(FakeQemu::be32(bs.data() + 4) == 4096u);
    BOOST_TEST(FakeQemu::be32(q.ctrl(kSwtpmInit, {0, 0, 0, 0}, 4).data()) == 0u);
    const Bytes est = q.ctrl(kSwtpmGetTpmEstablished, {}, 8);
    BOOST_TEST(FakeQemu::be32(est.data()) == 0u);
    BOOST_TEST(FakeQemu::be32(q.ctrl(kSwtpmSetLocality, {0, 0, 0, 0}, 4).data()) == 0u);  // QEMU's 4-byte ptm_loc
    Bytes r = q.tpm(startup_clear());
    BOOST_TEST(FakeQemu::be32(r.data() + 6) == 0u);
    r = q.tpm(pcr_read_17_sha256());
    BOOST_TEST_REQUIRE(r.size() == 62u);
    BOOST_TEST(Bytes(r.end() - 32, r.end()) == ones(HashAlg::sha256));

    // The DRTM measurement between two of QEMU's commands.
    bridge->drtm_hash(slb.data(), slb.size());
    r = q.tpm(pcr_read_17_sha256());
    BOOST_TEST(Bytes(r.end() - 32, r.end()) == drtm_pcr17(HashAlg::sha256, slb));
    BOOST_TEST(q.ctrl(kSwtpmGetTpmEstablished, {}, 8)[4] == 1u);  // tpmEstablished after the sequence

    // QEMU at exit: CMD_SHUTDOWN is answered by the bridge and swtpm keeps running.
    BOOST_TEST(FakeQemu::be32(q.ctrl(kSwtpmShutdown, {}, 4).data()) == 0u);
    BOOST_TEST(::kill(bridge->swtpm_pid(), 0) == 0);
  }
  BOOST_TEST_REQUIRE(bridge->wait_detached(5000));
  const auto st = bridge->stats();
  BOOST_TEST(st.attaches == 1u);
  BOOST_TEST(st.rejected == 1u);
  BOOST_TEST(st.detaches == 1u);
  BOOST_TEST(st.count(kSwtpmInit) == 1u);
  BOOST_TEST(st.count(kSwtpmSetDataFd) == 2u);
  BOOST_TEST(st.count(kSwtpmShutdown) == 1u);
  BOOST_TEST(st.tpm_commands == 3u);

  // After QEMU: the same TPM, PCRs of the "run" intact, NV provisioned before it intact.
  tpm.resume_after_qemu();
  const BankList banks = tpm.active_banks();
  auto pcrs = tpm.pcr_read({17, 18});
  for (uint32_t i = 0; i < banks.count; ++i) {
    BOOST_TEST(pcrs[banks.alg[i]][17] == drtm_pcr17(banks.alg[i], slb), hash_alg_name(banks.alg[i]));
    BOOST_TEST(pcrs[banks.alg[i]][18] == zeros(banks.alg[i]));
  }
  BOOST_TEST(tpm.nv_read_counter(kNv).value() == 1u);

  // ...and a second QEMU run on the same bridge works as well.
  {
    FakeQemu q(bridge->qemu_socket_path());
    BOOST_TEST(q.set_datafd() == 0u);
    BOOST_TEST(FakeQemu::be32(q.ctrl(kSwtpmInit, {0, 0, 0, 0}, 4).data()) == 0u);
    BOOST_TEST(FakeQemu::be32(q.tpm(startup_clear()).data() + 6) == 0u);
  }
  tpm.resume_after_qemu();
  pcrs = tpm.pcr_read({17});
  BOOST_TEST(pcrs[HashAlg::sha256][17] == ones(HashAlg::sha256));  // that run's CMD_INIT reset the TPM
  BOOST_TEST(bridge->stats().attaches == 2u);
}

BOOST_AUTO_TEST_CASE(dead_swtpm_is_a_tpm_error_not_a_hang) {
  std::string run_sock;
  pid_t pid;
  {
    auto bridge = std::make_shared<SwtpmQemuBridge>();
    SwtpmBridgeTpm tpm(bridge);
    pid = bridge->swtpm_pid();
    run_sock = bridge->qemu_socket_path();
    BOOST_TEST_REQUIRE(::kill(pid, SIGKILL) == 0);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      tpm.pcr_read({17});
      BOOST_FAIL("PCR read on a dead swtpm succeeded");
    } catch (const TpmError& e) {
      BOOST_TEST_MESSAGE("expected: " << e.what());
      BOOST_TEST(contains(e.what(), "harness TPM command"), e.what());
      BOOST_TEST(contains(e.what(), "killed by signal 9"), e.what());
      BOOST_TEST(contains(e.what(), "swtpm log:"), e.what());
    }
    try {
      bridge->drtm_hash(reinterpret_cast<const uint8_t*>("x"), 1);
      BOOST_FAIL("DRTM on a dead swtpm succeeded");
    } catch (const TpmError& e) {
      BOOST_TEST(contains(e.what(), "unusable after an earlier failure"), e.what());
    }
    // A QEMU connecting now is turned away at once (it would get no TPM).
    FakeQemu q(run_sock);
    BOOST_CHECK_THROW(q.ctrl(kSwtpmGetCapability, {}, 8), std::runtime_error);
    BOOST_TEST(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 5.0);
  }
  BOOST_TEST(process_gone(pid));
  BOOST_TEST(!std::filesystem::exists(run_sock));
}

BOOST_AUTO_TEST_CASE(bridge_leaves_nothing_behind_and_keeps_a_given_state_dir) {
  const TempDir tmp("bridge");
  pid_t pid;
  std::string run_sock;
  {
    auto bridge = std::make_shared<SwtpmQemuBridge>(SwtpmQemuBridge::Options{tmp.path});
    SwtpmBridgeTpm tpm(bridge);
    pid = bridge->swtpm_pid();
    run_sock = bridge->qemu_socket_path();
    tpm.nv_define_counter(kNv);
  }
  BOOST_TEST(process_gone(pid));
  BOOST_TEST(!std::filesystem::exists(run_sock));
  {
    auto bridge = std::make_shared<SwtpmQemuBridge>(SwtpmQemuBridge::Options{tmp.path});
    SwtpmBridgeTpm tpm(bridge);
    BOOST_TEST(tpm.nv_read_counter(kNv).value() == 1u);  // persistent state in the given dir
  }
}
