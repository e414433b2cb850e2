# Read by CTest at each run (TEST_INCLUDE_FILES, after `bcp_tests_exe` is set): one CTest test per
# GoogleTest suite, `bcp_tests --gtest_filter=SUITE.*`, where gtest_discover_tests makes one per
# test. Each process loads LibTorch first, 0.4 s of CPU with 2.13 and 0.7 s with Debian's 1.13:
# for some 440 tests that was about a fifth of CI's test time on 2 cores. One test alone:
# `bcp_tests --gtest_filter=SUITE.TEST`.
execute_process(COMMAND "${bcp_tests_exe}" --gtest_list_tests OUTPUT_VARIABLE bcp_listing
                ERROR_QUIET RESULT_VARIABLE bcp_listing_rc TIMEOUT 120)
# Where the listing fails or holds no suite: one test that always fails and shows the listing,
# never a green run that ran no suite.
macro(bcp_listing_failed why)
  add_test(ListingTheTests sh -c "\"$0\" --gtest_list_tests; echo \"${why}\"; exit 1"
           "${bcp_tests_exe}")
  return()
endmacro()
if(NOT bcp_listing_rc EQUAL 0)
  bcp_listing_failed("--gtest_list_tests failed (${bcp_listing_rc}) when CTest read the tests")
endif()
# Suite lines start in the first column and end with "." (a typed or parameterised suite's line
# may go on with "  # TypeParam = ..."); test lines are indented.
string(REGEX MATCHALL "(^|\n)[^ \n][^ \n]*\\.(  #[^\n]*)?(\n|$)" bcp_suite_lines "${bcp_listing}")
set(bcp_suites)
foreach(bcp_line IN LISTS bcp_suite_lines)
  string(REGEX REPLACE "^\n?([^ \n]*)\\..*$" "\\1" bcp_suite "${bcp_line}")
  list(APPEND bcp_suites "${bcp_suite}")
endforeach()
list(REMOVE_DUPLICATES bcp_suites)
if(NOT bcp_suites)
  bcp_listing_failed("no GoogleTest suite found in this listing")
endif()
# Longer under the sanitizers (scripts/sanitize.sh), which run every test several times slower.
set(bcp_suite_timeout 1800)
if(DEFINED ENV{BCP_SUITE_TIMEOUT})
  set(bcp_suite_timeout $ENV{BCP_SUITE_TIMEOUT})
endif()
set(bcp_all_skipped "\\[  PASSED  \\] 0 tests\\.\n\\[  SKIPPED \\] [0-9]+ tests?, listed below:\n(\\[  SKIPPED \\] [^\n]*\n?)*$")
foreach(bcp_suite IN LISTS bcp_suites)
  add_test("${bcp_suite}" "${bcp_tests_exe}" "--gtest_filter=${bcp_suite}.*")
  # "Skipped" when every test of the suite skipped and none failed: GoogleTest's summary then ends
  # with its list of skipped tests (a failure is listed after it; only a non-zero exit after a
  # summary of skips alone, from an exit handler, would read as skipped). scripts/test.sh lists
  # every skipped test with its reason, from CTest's log.
  set_tests_properties("${bcp_suite}" PROPERTIES ENVIRONMENT "${bcp_tests_env}"
                       TIMEOUT ${bcp_suite_timeout}
                       SKIP_REGULAR_EXPRESSION "${bcp_all_skipped}")
endforeach()
