# Hypervisor benchmark (include(hv.cmake) from bench/CMakeLists.txt).
add_executable(bench_hv ${CMAKE_CURRENT_LIST_DIR}/hv_bench.cpp)
target_link_libraries(bench_hv PRIVATE rd_tools)
set_target_properties(bench_hv PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
add_dependencies(bench_hv guests sl_bin hv_bin)
# The same images on the simulator and under QEMU TCG, side by side (docs/qemu.md).
add_executable(bench_qemu ${CMAKE_CURRENT_LIST_DIR}/qemu_bench.cpp)
target_link_libraries(bench_qemu PRIVATE rd_tools)
set_target_properties(bench_qemu PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
add_dependencies(bench_qemu guests sl_bin hv_bin boot_stub_bin)
# Scrub bandwidth: the platform's warm-reset scrub and the hypervisor's stop scrub (issue 11).
add_executable(bench_scrub ${CMAKE_CURRENT_LIST_DIR}/scrub_bench.cpp)
target_link_libraries(bench_scrub PRIVATE rd_tools)
set_target_properties(bench_scrub PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
add_dependencies(bench_scrub guests sl_bin hv_bin)
# SVM+NPT vs VMX+EPT on the same guests, side by side (issue 12; docs/intel.md "VMX vs SVM, measured").
add_executable(bench_vendor ${CMAKE_CURRENT_LIST_DIR}/vendor_bench.cpp)
target_link_libraries(bench_vendor PRIVATE rd_tools)
set_target_properties(bench_vendor PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
add_dependencies(bench_vendor guests sl_bin hv_bin)
