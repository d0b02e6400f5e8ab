# TPM backend benchmark (include(tpm.cmake) from bench/CMakeLists.txt).
add_executable(bench_tpm ${CMAKE_CURRENT_LIST_DIR}/tpm_bench.cpp)
target_link_libraries(bench_tpm PRIVATE rd_tpm)
