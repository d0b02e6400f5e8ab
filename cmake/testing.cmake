# rd_test(<name> SOURCES ... LIBS ...): one Boost.Test executable, registered with ctest.
function(rd_test name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK)
  target_link_libraries(${name} PRIVATE Boost::unit_test_framework ${A_LIBS})
  add_test(NAME ${name} COMMAND ${name} --log_level=message --report_level=short)
  # REDOUBT_SANITIZER_ENV (sanitizer builds): reports exit 86, distinct from "refused" (1).
  set_tests_properties(${name} PROPERTIES ENVIRONMENT
    "REDOUBT_BUILD_DIR=${PROJECT_BINARY_DIR};REDOUBT_SOURCE_DIR=${PROJECT_SOURCE_DIR};TSS2_LOG=all+NONE;${REDOUBT_SANITIZER_ENV}")
  if(A_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}")
  endif()
endfunction()
