# Simulated-CPU benchmark (include(cpu.cmake) from bench/CMakeLists.txt).
# The guest workload: a small C function compiled the way guests are
# (gcc -O2 -ffreestanding -mgeneral-regs-only -fno-pic) into a static ELF at 0x180000.
set(RD_CPU_WORK_ELF ${CMAKE_CURRENT_BINARY_DIR}/cpu_work.elf)
add_custom_command(OUTPUT ${RD_CPU_WORK_ELF}
  COMMAND ${CMAKE_C_COMPILER} -O2 -ffreestanding -mgeneral-regs-only -fno-pic -fno-pie -no-pie -nostdlib -static
          -fno-stack-protector -fcf-protection=none -mno-red-zone -fno-asynchronous-unwind-tables
          -Wl,-Ttext-segment=0x180000 -Wl,-e,cpu_work -Wl,--build-id=none -o ${RD_CPU_WORK_ELF}
          ${CMAKE_CURRENT_LIST_DIR}/cpu_work.c
  DEPENDS ${CMAKE_CURRENT_LIST_DIR}/cpu_work.c
  COMMENT "guest workload cpu_work.elf")
add_custom_target(rd_cpu_work ALL DEPENDS ${RD_CPU_WORK_ELF})
add_executable(bench_cpu ${CMAKE_CURRENT_LIST_DIR}/cpu_bench.cpp ${CMAKE_CURRENT_LIST_DIR}/cpu_work.c)
target_link_libraries(bench_cpu PRIVATE rd_svm_guest_env)
target_compile_definitions(bench_cpu PRIVATE RD_CPU_WORK_ELF="${RD_CPU_WORK_ELF}")
add_dependencies(bench_cpu rd_cpu_work)
# The Multiboot stub that boots the same cpu_work.elf under qemu-system-x86_64 -accel tcg (bench/qemu_tcg.hpp).
find_program(NASM nasm REQUIRED)
set(RD_QEMU_TCG_BOOT_BIN ${CMAKE_CURRENT_BINARY_DIR}/qemu_tcg_boot.bin)
add_custom_command(OUTPUT ${RD_QEMU_TCG_BOOT_BIN}
  COMMAND ${NASM} -f bin -o ${RD_QEMU_TCG_BOOT_BIN} ${CMAKE_CURRENT_LIST_DIR}/qemu_tcg_boot.asm
  DEPENDS ${CMAKE_CURRENT_LIST_DIR}/qemu_tcg_boot.asm
  COMMENT "QEMU TCG boot stub qemu_tcg_boot.bin")
add_custom_target(rd_qemu_tcg_boot ALL DEPENDS ${RD_QEMU_TCG_BOOT_BIN})
target_compile_definitions(bench_cpu PRIVATE RD_QEMU_TCG_BOOT_BIN="${RD_QEMU_TCG_BOOT_BIN}")
add_dependencies(bench_cpu rd_qemu_tcg_boot)
# tests/bench/qemu_tcg_test.cpp: the same ELF natively and under QEMU TCG (one short QEMU boot).
rd_test(bench_qemu_tcg_test SOURCES ${PROJECT_SOURCE_DIR}/tests/bench/qemu_tcg_test.cpp ${CMAKE_CURRENT_LIST_DIR}/cpu_work.c)
target_compile_definitions(bench_qemu_tcg_test PRIVATE RD_CPU_WORK_ELF="${RD_CPU_WORK_ELF}"
  RD_QEMU_TCG_BOOT_BIN="${RD_QEMU_TCG_BOOT_BIN}")
add_dependencies(bench_qemu_tcg_test rd_cpu_work rd_qemu_tcg_boot)
