# The freestanding rule (design: "The freestanding rule"): sources in sl/,
# hypervisor/, platform/hal/ and policy/fs/ build twice.
#   <name>     a native static library linked into the simulator and tests;
#   <name>_fs  the same sources as an OBJECT library compiled with
#              -ffreestanding -fno-exceptions -fno-rtti, linked into sl.bin /
#              hv.bin with -nostdlib (no libstdc++, no libc): any runtime
#              dependency is a link error, so the rule is machine-checked.
set(REDOUBT_FS_FLAGS
  -ffreestanding -fno-exceptions -fno-rtti -fno-asynchronous-unwind-tables
  -fno-threadsafe-statics -fno-use-cxa-atexit -fno-pic -fno-pie -mno-red-zone
  -fno-stack-protector -ffunction-sections -fdata-sections -Os)

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
  target_compile_options(${name}_fs PRIVATE ${REDOUBT_FS_FLAGS} -fno-sanitize=all)
  set_target_properties(${name}_fs PROPERTIES EXCLUDE_FROM_ALL FALSE)
endfunction()

# rd_flat_image(<name> LINKER_SCRIPT <ld> OBJECTS <object libs...>)
# Links <name>.elf with -nostdlib -static and BearSSL, then objcopies <name>.bin.
function(rd_flat_image name)
  cmake_parse_arguments(A "" "LINKER_SCRIPT" "OBJECTS;SOURCES" ${ARGN})
  set(objs)
  foreach(o ${A_OBJECTS})
    list(APPEND objs $<TARGET_OBJECTS:${o}>)
  endforeach()
  add_executable(${name}.elf ${A_SOURCES} ${objs})
  target_compile_options(${name}.elf PRIVATE ${REDOUBT_FS_FLAGS} -fno-sanitize=all)
  target_link_options(${name}.elf PRIVATE -nostdlib -static -no-pie -fno-sanitize=all
    -Wl,--gc-sections -Wl,-T,${A_LINKER_SCRIPT} -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
    -Wl,-Map,${CMAKE_CURRENT_BINARY_DIR}/${name}.map)
  target_link_libraries(${name}.elf PRIVATE ${BEARSSL_STATIC} gcc)
  set_target_properties(${name}.elf PROPERTIES LINK_DEPENDS ${A_LINKER_SCRIPT})
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/${name}.bin
    COMMAND ${OBJCOPY} -O binary $<TARGET_FILE:${name}.elf> ${PROJECT_BINARY_DIR}/${name}.bin
    DEPENDS ${name}.elf
    COMMENT "flat image ${name}.bin")
  add_custom_target(${name}_bin ALL DEPENDS ${PROJECT_BINARY_DIR}/${name}.bin)
endfunction()
