// The host side of the differential tester: sequences run on the host CPU in a
// forked child (seccomp strict mode: read/write/exit/sigreturn only), which maps
// the code, scratch and load pages at the tester's fixed addresses and reports
// every run's end (the UD2 terminator or any exception) from its signal frame.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "tools/cpu_difftest/state.hpp"

namespace redoubt::difftest {

class NativeRunner {
 public:
  NativeRunner();   // throws std::runtime_error if the child cannot start (fixed addresses taken, ...)
  ~NativeRunner();  // kills and reaps the child
  NativeRunner(const NativeRunner&) = delete;
  NativeRunner& operator=(const NativeRunner&) = delete;

  static constexpr unsigned kBatch = 64;
  // out[i] for seqs[i] (at most kBatch). A child that dies reports vector -2 for the
  // sequence it was running; a new child runs the rest.
  void run(const Sequence* const* seqs, unsigned n, Outcome* out);
  unsigned restarts() const { return restarts_; }
  struct Shared;  // the batch in shared memory (native.cpp)

 private:
  void spawn();
  void reap(std::string& why);
  Shared* sh_ = nullptr;
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
  unsigned restarts_ = 0;
};

}  // namespace redoubt::difftest
