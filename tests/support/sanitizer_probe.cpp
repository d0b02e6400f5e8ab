// A program that misbehaves on request and then "refuses" with exit 1, as the
// redoubt CLI does for a refused launch (docs/running.md): sanitizer_probe
// heap|ub|leak|none. Under ASan/UBSan the report must exit 86, not 1 (issue 16
// item 12; sanitizer_exit_test). Built in every configuration. `daemon` and
// `leak-daemon` print "probe: ready", wait for SIGTERM and exit 0, as the verifier
// does: LSan reports the leak at that exit (tests/attestation/child_process.cpp).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "none";
  volatile int sink = 0;
  if (what == "heap") {
    int* a = new int[4];
    sink = a[argc + 3];  // heap-buffer-overflow read (argc = 2: a[5])
    delete[] a;
  } else if (what == "ub") {
    volatile int big = 0x7fffffff;
    sink = big + argc;  // signed integer overflow
  } else if (what == "daemon" || what == "leak-daemon") {
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, nullptr);
    void* volatile p = std::malloc(64);
    std::memset(p, 1, 64);
    if (what == "daemon") std::free(p);
    p = nullptr;
    std::printf("probe: ready\n");
    std::fflush(stdout);
    int sig = 0;
    sigwait(&term, &sig);
    return 0;
  } else if (what == "leak") {
    void* volatile p = std::malloc(64);
    std::memset(p, 1, 64);
    p = nullptr;
  }
  (void)sink;
  std::fprintf(stderr, "probe: refused\n");
  return 1;
}
