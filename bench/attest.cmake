# Attestation service benchmark (include(attest.cmake) from bench/CMakeLists.txt).
add_executable(bench_attest ${CMAKE_CURRENT_LIST_DIR}/attest_bench.cpp)
target_link_libraries(bench_attest PRIVATE rd_attest_service rd_attest_agent rd_tools rd_attest_test_support)
set_target_properties(bench_attest PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
add_dependencies(bench_attest sl_bin hv_bin guests)
