// A tiny synthetic ACDC root and a config that trains on it in seconds, shared by the training
// tests (one root per test process).
#pragma once
#include <filesystem>
#include <string>

#include "../support.h"
#include "bcp/data/synth.h"
#include "bcp/train/config.h"

namespace bcp::test {

// Written once per test process, on first use.
inline const std::string& tiny_acdc() {
  static const std::string root = [] {
    std::filesystem::path p = process_temp_dir() / "bcp_test_trainer_acdc";
    std::filesystem::remove_all(p);
    data::SynthAcdcOptions o;
    o.seed = 5;
    o.train_patients = 3;
    o.val_patients = 1;
    o.test_patients = 1;
    o.min_side = 40;
    o.max_side = 48;
    o.min_slices = 4;
    o.max_slices = 4;
    data::write_synth_acdc(p.string(), o);
    return p.string();
  }();
  return root;
}

inline train::TrainConfig tiny_config(const std::string& method) {
  train::TrainConfig c = train::preset("acdc", 5, method);
  c.data.patch = {32, 32};
  c.data.labeled = 8;
  c.batch = {4, method == "supervised" ? 0 : 4};
  c.schedule.pretrain_iters = method == "bcp" ? 4 : 0;
  c.schedule.selftrain_iters = 4;
  c.schedule.val_every = 2;
  c.schedule.checkpoint_every = 2;
  c.schedule.log_every = 0;
  c.threads = 1;
  return c;
}

}  // namespace bcp::test
