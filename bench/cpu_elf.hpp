// Loads a static ELF64 (PT_LOAD segments at their physical addresses) into
// guest-physical memory; returns the entry point. For the CPU benchmark/tests.
#pragma once
#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/platform/sim/svm/guest_env.hpp"

namespace redoubt::bench {

inline uint64_t load_elf(test::GuestEnv& g, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("missing " + path);
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  Elf64_Ehdr eh;
  std::memcpy(&eh, b.data(), sizeof eh);
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, b.data() + eh.e_phoff + i * eh.e_phentsize, sizeof ph);
    if (ph.p_type != PT_LOAD) continue;
    std::memset(g.gpa(ph.p_paddr, ph.p_memsz), 0, ph.p_memsz);
    std::memcpy(g.gpa(ph.p_paddr, ph.p_filesz), b.data() + ph.p_offset, ph.p_filesz);
  }
  return eh.e_entry;
}

}  // namespace redoubt::bench
