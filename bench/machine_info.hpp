// Prints what machine a benchmark ran on (CPU model, cores, kernel).
#pragma once
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace redoubt::bench {

inline void print_machine() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, model = "unknown";
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  utsname u{};
  uname(&u);
  std::printf("machine: %s, %ld cores online, %s %s\n", model.c_str(), sysconf(_SC_NPROCESSORS_ONLN), u.sysname,
              u.release);
}

}  // namespace redoubt::bench
