# Included by CTest after the discovered tests: the longest tests start first under `ctest -j`.
# A fresh clone has no CTestCostData.txt, so without this CTest runs them in declaration order and
# a two-minute test that happens to start last leaves one core idle at the end of CI. Seconds as
# measured on the 2-core AVX2 project machine (LibTorch 2.13, `ctest -j2`); only their order matters.
# (InstallAndEmbed and DocsCommands, defined after this file is read, carry theirs in CMakeLists.txt.)
set(bcp_test_costs
  Demo.BcpBeatsSupervisedOnAShortSyntheticRun 244
  CliOwnData.SmallThreeClassVolumesLearnFarAboveChance 200
  CliOwnData.ThreeDimensionalNiftiFromPrepareToScore 106
  CliBench.StepTimesBothPrecisionsAtThePapersShapeAndWritesJsonLines 60
  CliOwnData.TwoDimensionalNiftiFromPrepareToScore 55
  CliOwnData.TwoChannelScansTrainAndPredictAsOneCase 47
  CliBudget.PlansTheScheduleFromTimedStepsAndFollowsIt 39
  CliKillResume.KillNineAtRandomMomentsThenResumeEqualsAnUninterruptedRun 30
  ComputeCopy.VNetRunsInBf16ChannelsLast3dAndTrains 27
  CliBench.InferRunsTheAcdcProtocolAndComparesLabelsWithFp32 27
  CliDistributed.TwoLocalRanksTrainValidateAndResume 13
  CliReport.WritesOnePageThatABrowserLoadsWithEveryImage 13
  CliBench.StepWithTwoRanksTimesOneProcessAndTheGroupInOneRun 13)
# The dataset matrix's instances: CMake 3.25's gtest_discover_tests names them with GoogleTest's
# "  # GetParam() = NAME" comment, newer CMake without it; both names are given.
set(bcp_matrix_costs vol_3class_bcp 90 vol_aniso_2ch_mt 41 vol_3class_sup 25)
while(bcp_matrix_costs)
  list(POP_FRONT bcp_matrix_costs bcp_case bcp_cost)
  set(bcp_test Datasets/CliDatasetMatrix.PrepareTrainResumePredictEvaluateScore/${bcp_case})
  list(APPEND bcp_test_costs "${bcp_test}" ${bcp_cost} "${bcp_test}  # GetParam() = ${bcp_case}"
       ${bcp_cost})
endwhile()
# In CTest's own reading of this file `if(TEST ...)` is always false, and a name that is absent
# (the ITK tests of a build without ITK) is ignored, so the properties are set unconditionally.
while(bcp_test_costs)
  list(POP_FRONT bcp_test_costs bcp_name bcp_cost)
  set_tests_properties("${bcp_name}" PROPERTIES COST ${bcp_cost})
endwhile()
