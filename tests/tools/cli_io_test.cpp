// Issue 16 item 10: outputs on a full file system. Every output of `redoubt`
// is written to a temporary file, flushed, checked and renamed into place, so a
// full disk (or a file size limit) gives exit code 3 and a message naming the
// file and errno, never "wrote" with a 0-byte or partial file; what was at the
// destination before is kept intact.
#define BOOST_TEST_MODULE cli_io
#include <boost/test/unit_test.hpp>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt::test;

namespace {

std::string text(const fs::path& p) {
  const Bytes b = read_file(p);
  return std::string(b.begin(), b.end());
}

// build/redoubt (or $REDOUBT_TEST_CLI) in a child whose files may not grow beyond
// `fsize` bytes (RLIMIT_FSIZE, SIGXFSZ ignored so write(2) fails with EFBIG, as on
// a full disk). Its stdout and stderr go to one pipe: the limit does not apply to pipes.
CliResult run_redoubt_fsize_limited(const std::vector<std::string>& args, rlim_t fsize) {
  const char* other = std::getenv("REDOUBT_TEST_CLI");
  std::vector<std::string> argv = {other && *other ? std::string(other) : (build_dir() / "redoubt").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  int fds[2];
  BOOST_REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    signal(SIGXFSZ, SIG_IGN);  // ignored signals stay ignored across exec
    struct rlimit rl = {fsize, fsize};
    setrlimit(RLIMIT_FSIZE, &rl);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  close(fds[1]);
  CliResult r;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    r.out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.err = r.out;
  return r;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> s;
  for (const auto& e : fs::directory_iterator(dir)) s.insert(e.path().filename().string());
  return s;
}

// Every regular file below dir with its size: none may be empty, no temporary file may remain.
void require_no_empty_or_temporary_files(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string n = e.path().filename().string();
    BOOST_TEST(n.find(".tmp-") == std::string::npos, "temporary file left behind: " << e.path());
    BOOST_TEST(fs::file_size(e.path()) > 0u, "0-byte file left behind: " << e.path());
  }
}

struct Signer {
  TempDir d;
  fs::path key = d / "k.key.pem", pki = d / "pki";
  Signer() {
    CliResult k = run_redoubt({"key", "gen", "--out", (d / "k").string()});
    BOOST_REQUIRE_MESSAGE(k.exit_code == 0, k.out << k.err);
    CliResult p = run_redoubt({"pki", "init", pki.string()});
    BOOST_REQUIRE_MESSAGE(p.exit_code == 0, p.out << p.err);
  }
  std::vector<std::string> sign_hv(const fs::path& out) const {
    return {"sign", "hypervisor", "--image", (build_dir() / "hv.bin").string(), "--key", key.string(), "--version", "1.0.0",
            "--svn", "2", "--out", out.string(), "--force"};  // replacing is what these tests are about
  }
  std::vector<std::string> sign_policy(const fs::path& out) const {
    return {"sign", "policy", "--key", (pki / "owner.key.pem").string(), "--anchor", (pki / "root.crt.pem").string(), "--out",
            out.string(), "--force"};
  }
};

}  // namespace

// The stream failure: /dev/full answers every write with ENOSPC.
BOOST_AUTO_TEST_CASE(dev_full_is_an_error_not_wrote) {
  Signer s;
  CliResult r = run_redoubt(s.sign_hv("/dev/full"));
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(r.err.find("cannot write /dev/full: No space left on device") != std::string::npos, r.err);
  BOOST_TEST(r.out.find("wrote") == std::string::npos, r.out);
}

// A file size limit (RLIMIT_FSIZE): the write fails half-way (EFBIG), like a disk filling up.
BOOST_AUTO_TEST_CASE(sign_hypervisor_and_policy_on_a_full_disk_keep_the_old_file) {
  Signer s;
  const fs::path out = s.d / "outs";
  fs::create_directories(out);
  // What a previous successful run left at the destination.
  write_file(out / "hv.manifest", Bytes{'o', 'l', 'd', '\n'});
  for (const auto& [args, dest] : {std::pair{s.sign_hv(out / "hv.manifest"), out / "hv.manifest"},
                                   std::pair{s.sign_policy(out / "launch.policy"), out / "launch.policy"}}) {
    CliResult r = run_redoubt_fsize_limited(args, 64);  // both outputs are hundreds of bytes
    BOOST_TEST_INFO(dest << ": " << r.out);
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(r.out.find("cannot write " + dest.string() + ": File too large") != std::string::npos);
    BOOST_TEST(r.out.find(dest.string() + " is unchanged") != std::string::npos);
    BOOST_TEST(r.out.find("wrote") == std::string::npos);
  }
  BOOST_TEST(text(out / "hv.manifest") == "old\n");     // the previous file, intact
  BOOST_TEST(!fs::exists(out / "launch.policy"));       // no 0-byte or partial file
  BOOST_TEST((names_in(out) == std::set<std::string>{"hv.manifest"}));  // and no temporary file
  // Without the limit the same commands write complete files.
  std::vector<std::string> policy = s.sign_policy(out / "launch.policy");
  policy.push_back("--allow-unsigned");
  for (const auto& args : {s.sign_hv(out / "hv.manifest"), policy}) {
    CliResult r = run_redoubt(args);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
  }
  BOOST_TEST(run_redoubt({"manifest", "show", (out / "hv.manifest").string()}).out.find("\"svn\": 2") != std::string::npos);
  CliResult v = run_redoubt({"pki", "verify", "--policy", (out / "launch.policy").string(), "--owner", (s.pki / "owner.pub.pem").string()});
  BOOST_TEST(v.exit_code == 0);
  BOOST_TEST(v.out.find("allowed unmeasured") != std::string::npos, v.out);
}

// `redoubt run` onto a real full file system: a small tmpfs in a private mount
// namespace (needs root; skipped otherwise — the RLIMIT_FSIZE case covers the logic).
BOOST_AUTO_TEST_CASE(run_on_a_full_tmpfs_keeps_the_previous_outputs) {
  if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    BOOST_TEST_MESSAGE("skipped: needs root to mount a tmpfs in a private mount namespace");
    return;
  }
  TempDir t;
  const fs::path mnt = t / "mnt";
  fs::create_directories(mnt);
  BOOST_REQUIRE_MESSAGE(mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") == 0, std::strerror(errno));
  struct Unmount {
    fs::path p;
    ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const fs::path out = mnt / "out";
  const std::vector<std::string> run = {"run", "--state", (t / "state").string(), "--out", out.string(), "--guest", "hello"};
  CliResult first = run_redoubt(run);
  BOOST_REQUIRE_MESSAGE(first.exit_code == 0, first.out << first.err);
  const std::string run_json = text(out / "run.json"), launch_json = text(out / "launch.json");
  // Fill the file system to the last byte.
  {
    const int fd = open((mnt / "filler").c_str(), O_WRONLY | O_CREAT, 0644);
    BOOST_REQUIRE(fd >= 0);
    std::vector<char> block(4096, 'x');
    while (write(fd, block.data(), block.size()) > 0) {
    }
    for (char c = 'x'; write(fd, &c, 1) > 0;) {
    }
    close(fd);
  }
  CliResult full = run_redoubt(run);
  BOOST_TEST_INFO(full.out << full.err);
  BOOST_TEST(full.exit_code == 3);
  BOOST_TEST(full.err.find("cannot write " + out.string()) != std::string::npos);
  BOOST_TEST(full.err.find("No space left on device") != std::string::npos);
  BOOST_TEST(full.out.find("Wrote") == std::string::npos);
  BOOST_TEST(text(out / "run.json") == run_json);        // the previous run's outputs, intact
  BOOST_TEST(text(out / "launch.json") == launch_json);
  require_no_empty_or_temporary_files(out);
}
