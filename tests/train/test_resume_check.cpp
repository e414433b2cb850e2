// What a resume may change: only length, cadence and where it runs; everything that makes the run
// another experiment is named.
#include <gtest/gtest.h>

#include <string>

#include "bcp/train/config.h"
#include "bcp/train/resume_check.h"

using bcp::train::apply_override;
using bcp::train::preset;
using bcp::train::resume_conflicts;
using bcp::train::TrainConfig;

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

}  // namespace

TEST(ResumeCheck, SameConfigAndSafeChangesAreAllowed) {
  const TrainConfig saved = preset("acdc", 5, "bcp");
  EXPECT_TRUE(resume_conflicts(saved, saved).empty());
  TrainConfig more = saved;
  for (const char* set :
       {"schedule.selftrain_iters=40000", "schedule.pretrain_iters=12000", "schedule.val_every=50",
        "schedule.log_every=5", "schedule.checkpoint_every=10", "threads=1",
        "eval.window_batch=8", "eval.max_cases=3"})
    apply_override(more, set);
  EXPECT_TRUE(resume_conflicts(saved, more).empty()) << joined(resume_conflicts(saved, more));
}

TEST(ResumeCheck, AnotherExperimentIsRefusedWithItsKeys) {
  const TrainConfig saved = preset("acdc", 5, "bcp");
  const auto method = resume_conflicts(saved, preset("acdc", 5, "supervised"));
  ASSERT_FALSE(method.empty());
  EXPECT_NE(joined(method).find("method: saved \"bcp\", requested \"supervised\""),
            std::string::npos)
      << joined(method);

  TrainConfig beta = saved;
  apply_override(beta, "bcp.beta=0.5");
  const auto b = resume_conflicts(saved, beta);
  ASSERT_EQ(b.size(), 1u) << joined(b);
  EXPECT_EQ(b[0].rfind("bcp.beta: saved ", 0), 0u) << b[0];

  TrainConfig fewer = saved;
  apply_override(fewer, "schedule.selftrain_iters=100");
  const auto f = resume_conflicts(saved, fewer);
  ASSERT_EQ(f.size(), 1u) << joined(f);
  EXPECT_NE(f[0].find("fewer iterations"), std::string::npos) << f[0];

  // Another dataset: many keys, each named, including a list that changes length.
  const auto la = joined(resume_conflicts(saved, preset("la", 5, "bcp")));
  for (const char* key : {"dataset:", "data.patch.0:", "data.patch.2:", "batch.labeled:"})
    EXPECT_NE(la.find(key), std::string::npos) << key << " missing in\n" << la;
}
