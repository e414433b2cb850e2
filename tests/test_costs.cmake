# Included by CTest after the test suites: the longest start first under `ctest -j`. A fresh clone
# has no CTestCostData.txt, so without this CTest runs them in declaration order and a suite of
# minutes that happens to start last leaves one core idle at the end of CI. Seconds of each suite,
# as measured on the 2-core AVX2 project machine (LibTorch 2.13, `ctest -j2`); only their order
# matters. (InstallAndEmbed and DocsCommands, defined after this file is read, carry theirs in
# CMakeLists.txt.)
set(bcp_test_costs
  CliOwnData 455
  Demo 286
  Datasets/CliDatasetMatrix 196
  CliBench 111
  CliFileSafety 49
  CliBudget 45
  Trainer 43
  CliKillResume 38
  ComputeCopy 34
  CliUsage 30
  CliLimits 21
  CliDistributed 21
  CliReport 16)
# In CTest's own reading of this file `if(TEST ...)` is always false, and a name that is absent
# (the ITK tests of a build without ITK) is ignored, so the properties are set unconditionally.
while(bcp_test_costs)
  list(POP_FRONT bcp_test_costs bcp_name bcp_cost)
  set_tests_properties("${bcp_name}" PROPERTIES COST ${bcp_cost})
endwhile()
