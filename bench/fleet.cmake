# Issue 13: the load test (include(fleet.cmake) from bench/CMakeLists.txt); the short run is a ctest
# (attest_fleet_test, tests/attestation/CMakeLists.txt).
add_executable(bench_verifier_fleet ${CMAKE_CURRENT_LIST_DIR}/fleet_bench.cpp)
target_link_libraries(bench_verifier_fleet PRIVATE rd_attest_test_support rd_attest_endpoint rd_attest_agent rd_tools)
set_target_properties(bench_verifier_fleet PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
add_dependencies(bench_verifier_fleet redoubt sl_bin hv_bin guests)
