// Prints what machine a benchmark ran on (CPU model, cores, kernel).
#pragma once
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace redoubt::bench {

inline std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

inline void print_machine() {
  const std::string model = cpu_model();
  utsname u{};
  uname(&u);
  std::printf("machine: %s, %ld cores online, %s %s\n", model.c_str(), sysconf(_SC_NPROCESSORS_ONLN), u.sysname,
              u.release);
}

}  // namespace redoubt::bench
