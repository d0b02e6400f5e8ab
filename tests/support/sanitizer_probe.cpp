// A program that misbehaves on request and then "refuses" with exit 1, as the
// redoubt CLI does for a refused launch (docs/running.md): sanitizer_probe
// heap|ub|leak|none. Under ASan/UBSan the report must exit 86, not 1 (issue 16
// item 12; sanitizer_exit_test). Built in every configuration.
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
  } else if (what == "leak") {
    void* volatile p = std::malloc(64);
    std::memset(p, 1, 64);
    p = nullptr;
  }
  (void)sink;
  std::fprintf(stderr, "probe: refused\n");
  return 1;
}
