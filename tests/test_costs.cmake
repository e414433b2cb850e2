# Included by CTest after the discovered tests: the longest tests start first under `ctest -j`.
# A fresh clone has no CTestCostData.txt, so without this CTest runs them in declaration order and
# a two-minute test that happens to start last leaves one core idle at the end of CI. Seconds as
# measured on the 2-core project machine; only their order matters.
set(bcp_test_costs
  Demo.BcpBeatsSupervisedOnAShortSyntheticRun 115
  CliOwnData.ThreeDimensionalNiftiFromPrepareToScore 50
  CliOwnData.SmallThreeClassVolumesLearnFarAboveChance 240
  DocsCommands 53
  CliBudget.PlansTheScheduleFromTimedStepsAndFollowsIt 22
  Datasets/CliDatasetMatrix.PrepareTrainResumePredictEvaluateScore/vol_3class_bcp 30
  Datasets/CliDatasetMatrix.PrepareTrainResumePredictEvaluateScore/vol_aniso_2ch_mt 20
  CliOwnData.TwoDimensionalNiftiFromPrepareToScore 28
  CliOwnData.TwoChannelScansTrainAndPredictAsOneCase 25
  CliKillResume.KillNineAtRandomMomentsThenResumeEqualsAnUninterruptedRun 22
  CliDistributed.TwoLocalRanksTrainValidateAndResume 19
  CliBench.StepTimesBothPrecisionsAtThePapersShapeAndWritesJsonLines 18
  CliReport.WritesOnePageThatABrowserLoadsWithEveryImage 13
  CliBench.StepWithTwoRanksTimesOneProcessAndTheGroupInOneRun 12)
# In CTest's own reading of this file `if(TEST ...)` is always false, and a name that is absent
# (the ITK tests of a build without ITK) is ignored, so the properties are set unconditionally.
while(bcp_test_costs)
  list(POP_FRONT bcp_test_costs bcp_name bcp_cost)
  set_tests_properties(${bcp_name} PROPERTIES COST ${bcp_cost})
endwhile()
