# lp_add_module(NAME DEPS <targets...>)
# Every src/<name>/*.cpp becomes the static library lp_<name>; headers are included as "<name>/file.h".
function(lp_add_module name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(lp_${name} STATIC ${sources})
  target_include_directories(lp_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(lp_${name} PUBLIC ${ARG_DEPS})
  target_compile_definitions(lp_${name} PUBLIC LP_VERSION="${PROJECT_VERSION}")
  if(LP_SANITIZE AND name IN_LIST LP_SANITIZE_OPTIMIZE)
    # The sanitizer preset compiles at -O0 (40% less compile time for the template-heavy files) except the modules
    # whose loops the tests spend their time in, at -O2 (the F32/BF16 tiles under ASan: 25% less test time than at
    # -O1, docs/TESTING.md "CI time"); the last -O on the command line wins.
    target_compile_options(lp_${name} PRIVATE -O2)
  endif()
endfunction()

# lp_add_test_dir(NAME DEPS <targets...>): tests/unit/<name>/*.cpp -> test_<name>, registered with ctest.
function(lp_add_unit_tests name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/unit/${name}/*.cpp)
  if(NOT sources)
    return()
  endif()
  add_executable(test_${name} ${sources})
  target_link_libraries(test_${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_include_directories(test_${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
  target_compile_definitions(test_${name} PRIVATE
    LP_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    LP_SHARED_FIXTURES="${PROJECT_SOURCE_DIR}/../shared/fixtures")
  gtest_discover_tests(test_${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
endfunction()
