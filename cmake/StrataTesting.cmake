# Helpers for registering tests with CTest.

include(GoogleTest)

# strata_add_gtest(<name> SOURCES ... LIBS ... [LABELS ...])
# One GoogleTest binary; each TEST becomes its own CTest entry.
# TIMING: the test measures how long waits take, so it runs alone
# (RUN_SERIAL) and carries the `timing` label (ctest -LE timing skips them).
function(strata_add_gtest name)
  cmake_parse_arguments(ARG "TIMING" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  set(labels unit ${ARG_LABELS})
  set(serial "")
  if(ARG_TIMING)
    list(APPEND labels timing)
    set(serial " RUN_SERIAL TRUE")
  endif()
  # gtest_discover_tests flattens a list passed in PROPERTIES (CMake 3.25),
  # so the labels are applied by an include file once the tests are known.
  gtest_discover_tests(${name} TEST_LIST ${name}_TESTS PROPERTIES TIMEOUT 300 DISCOVERY_TIMEOUT 60)
  file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake
       CONTENT "set_tests_properties(\${${name}_TESTS} PROPERTIES LABELS \"${labels}\"${serial})\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake)
endfunction()

# The mpirun prefix every multi-rank test uses: as root, oversubscribed (CI
# has 2 cores), with a short Strata timeout so a hang fails instead of waiting.
set(STRATA_MPIRUN ${MPIEXEC_EXECUTABLE} --oversubscribe --bind-to none
    -x STRATA_TIMEOUT=60 -x OMPI_ALLOW_RUN_AS_ROOT=1 -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)

# strata_add_mpi_test(<name> NP <n> COMMAND <exe> [args...] [LABELS ...] [TIMEOUT s])
function(strata_add_mpi_test name)
  cmake_parse_arguments(ARG "" "NP;TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${STRATA_MPIRUN} -np ${ARG_NP} ${ARG_COMMAND})
  set_tests_properties(${name} PROPERTIES
    LABELS "mpi;${ARG_LABELS}"
    TIMEOUT ${ARG_TIMEOUT}
    PROCESSORS 2
    ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
endfunction()

