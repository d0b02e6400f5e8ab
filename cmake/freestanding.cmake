# The freestanding rule (design: "The freestanding rule"): sources in sl/,
# hypervisor/, platform/hal/ and policy/fs/ build twice.
#   <name>     a native static library linked into the simulator and tests;
#   <name>_fs  the same sources as an OBJECT library compiled with
#              -ffreestanding -fno-exceptions -fno-rtti, linked into sl.bin /
#              hv.bin with -nostdlib (no libstdc++, no libc): any runtime
#              dependency is a link error, so the rule is machine-checked.
#
# Position independent (docs/skinit.md "Relocation"): -fpie with hidden
# visibility, so every reference is RIP-relative and the only load-time fix-ups
# are R_X86_64_RELATIVE ones (pointers in data: vtables, string tables), which
# the entry code applies. -mgeneral-regs-only: our code never touches
# SSE/MMX/x87 state, which belongs to the guests (scripts/check_image.sh).
set(REDOUBT_FS_FLAGS
  -ffreestanding -fno-exceptions -fno-rtti -fno-asynchronous-unwind-tables
  -fno-threadsafe-statics -fno-use-cxa-atexit -fpie -fvisibility=hidden -mno-red-zone
  -mgeneral-regs-only -fno-stack-protector -ffunction-sections -fdata-sections -Os
  -fomit-frame-pointer -DNDEBUG -fno-sanitize=all)

# The measured images are the same bytes in every build (issue 16 item 12): their
# objects do not inherit the directory's compile options (REDOUBT_SANITIZE adds
# -fsanitize=... and -fno-omit-frame-pointer there, which made a Debug/ASan sl.elf
# overflow the 64 KiB SLB), only the warnings and REDOUBT_FS_FLAGS; the build
# type's own flags are overridden (-Os, NDEBUG given explicitly; -g changes no code).
set(REDOUBT_FS_WARNINGS -Wall -Wextra -Wno-missing-field-initializers)
function(rd_fs_isolate target)
  set_property(TARGET ${target} PROPERTY COMPILE_OPTIONS ${REDOUBT_FS_WARNINGS})
  set_property(TARGET ${target} PROPERTY LINK_OPTIONS "")
endfunction()

# Flags shared by the native build of the same sources (so both builds see the
# same language subset).
set(REDOUBT_FS_NATIVE_FLAGS -fno-exceptions -fno-rtti)

function(rd_freestanding_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${REDOUBT_FS_NATIVE_FLAGS}>)
  target_link_libraries(${name} PUBLIC ${A_DEPS})
  add_library(${name}_fs OBJECT ${A_SOURCES})
  # No sanitizer instrumentation in the freestanding objects: they link with -nostdlib.
  rd_fs_isolate(${name}_fs)
  target_compile_options(${name}_fs PRIVATE ${REDOUBT_FS_FLAGS})
  set_target_properties(${name}_fs PROPERTIES EXCLUDE_FROM_ALL FALSE)
endfunction()

# rd_flat_image(<name> LINKER_SCRIPT <ld> OBJECTS <object libs...>)
# Links <name>.elf as a static PIE (-nostdlib -static-pie -z text: no text
# relocations, no dynamic linker) with BearSSL, checks it (only
# R_X86_64_RELATIVE relocations, no SSE/x87 outside BearSSL:
# scripts/check_image.sh), then objcopies <name>.bin.
function(rd_flat_image name)
  cmake_parse_arguments(A "" "LINKER_SCRIPT;PIN_STAGE2" "OBJECTS;SOURCES" ${ARGN})
  set(objs)
  foreach(o ${A_OBJECTS})
    list(APPEND objs $<TARGET_OBJECTS:${o}>)
  endforeach()
  add_executable(${name}.elf ${A_SOURCES} ${objs})
  rd_fs_isolate(${name}.elf)
  target_compile_options(${name}.elf PRIVATE ${REDOUBT_FS_FLAGS})
  target_link_options(${name}.elf PRIVATE -nostdlib -static-pie -fno-sanitize=all -Wl,-z,text
    -Wl,--gc-sections -Wl,-T,${A_LINKER_SCRIPT} -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
    -Wl,-Map,${CMAKE_CURRENT_BINARY_DIR}/${name}.map)
  target_link_libraries(${name}.elf PRIVATE ${BEARSSL_STATIC} gcc)
  set_target_properties(${name}.elf PROPERTIES LINK_DEPENDS ${A_LINKER_SCRIPT})
  target_include_directories(${name}.elf PRIVATE ${PROJECT_SOURCE_DIR})
  add_custom_command(TARGET ${name}.elf POST_BUILD
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/check_image.sh $<TARGET_FILE:${name}.elf> ${BEARSSL_STATIC}
    VERBATIM)
  # PIN_STAGE2 <image>: write <image>.bin's size and SHA-256 into this image's
  # stage-2 pin (the SL's two stages, docs/skinit.md).
  set(pin_cmd)
  set(pin_dep)
  if(A_PIN_STAGE2)
    set(pin_cmd COMMAND ${PROJECT_SOURCE_DIR}/scripts/pin_stage2.sh $<TARGET_FILE:${name}.elf>
                        ${PROJECT_BINARY_DIR}/${name}.bin ${PROJECT_BINARY_DIR}/${A_PIN_STAGE2}.bin)
    set(pin_dep ${PROJECT_BINARY_DIR}/${A_PIN_STAGE2}.bin ${PROJECT_SOURCE_DIR}/scripts/pin_stage2.sh)
  endif()
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/${name}.bin
    COMMAND ${OBJCOPY} -O binary $<TARGET_FILE:${name}.elf> ${PROJECT_BINARY_DIR}/${name}.bin
    ${pin_cmd}
    DEPENDS ${name}.elf ${pin_dep}
    COMMENT "flat image ${name}.bin")
  add_custom_target(${name}_bin ALL DEPENDS ${PROJECT_BINARY_DIR}/${name}.bin)
endfunction()
