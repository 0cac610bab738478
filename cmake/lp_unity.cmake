# LP_UNITY_BUILD (ON in the asan-ubsan preset, which CI builds cold): CMake unity builds for every target created
# after this file is included. Each batch of LP_UNITY_BATCH_SIZE sources of a target is compiled as one translation
# unit, so the headers every file includes (nlohmann/json, fmt, gtest, the standard library) are parsed, and their
# templates instantiated and code-generated, once per batch instead of once per file: under -O1 + ASan + UBSan that
# code generation is most of a translation unit's cost (docs/TESTING.md, "CI time").
# The release preset stays one translation unit per file (a developer's incremental build, and the check that every
# file includes what it uses). Unity-safe code: no two files of one target may define the same name in an anonymous
# namespace or as `static` (give the helper a file-specific name). Sources that must stay alone (Highway's
# foreach_target re-inclusion) are marked with SKIP_UNITY_BUILD_INCLUSION next to their target.
option(LP_UNITY_BUILD "Compile each target's sources in unity batches (CI's sanitizer build)" OFF)
set(LP_UNITY_BATCH_SIZE 8 CACHE STRING "Sources per unity translation unit when LP_UNITY_BUILD is ON")
if(LP_UNITY_BUILD)
  set(CMAKE_UNITY_BUILD ON)
  set(CMAKE_UNITY_BUILD_BATCH_SIZE ${LP_UNITY_BATCH_SIZE})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC's -Wsubobject-linkage flags a type from an anonymous namespace used by a type with linkage (a TEST_F's
    # fixture as base class, a pimpl Impl's field) only when the anonymous type is outside the main file, taking it
    # for a header's. In a unity translation unit every source is an included file, so the warning would fire on
    # code that is one file's own; the release build (one file per translation unit) keeps it for real headers.
    add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wno-subobject-linkage>)
  endif()
endif()

