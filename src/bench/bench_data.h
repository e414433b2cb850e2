// What the three benchmarks share: device and thread set-up, the data they run on (real data
// when a root is given, else synthetic stand-ins of the real shapes), and the common JSON fields.
#pragma once
#include <torch/types.h>

#include <nlohmann/json.hpp>
#include <string>

#include "bcp/bench/bench.h"
#include "bcp/data/acdc.h"
#include "bcp/train/config.h"
#include "bcp/train/training_set.h"

namespace bcp::bench {

/// The threads of each of `local_ranks` processes: `threads` where given (> 0), else
/// util::default_threads (OMP_NUM_THREADS, else the available cores shared among the ranks).
int bench_threads(int threads, int64_t local_ranks);

/// torch::set_num_threads(bench_threads(threads, 1)).
void set_threads(int threads);

/// A training set for `config`'s steps: the data root's train list (the labeled cases and two
/// unlabeled batches' worth of the rest) or synthetic cases of the same shapes.
train::TrainingSet bench_training_set(train::TrainConfig& config, const std::string& data_root);
/// One validation volume of `dataset`: `case_name` (or the first) of the root's val.list, or a
/// synthetic one (ACDC 10 x 232 x 200 with labels 0..3; LA 193 x 159 x 88, the shape of a typical
/// LA scan, 72 windows).
data::Sample bench_volume(data::Dataset dataset, const std::string& data_root,
                          const std::string& case_name);

/// The fields every row has.
nlohmann::json common_row(const std::string& benchmark, const std::string& dataset,
                          const std::string& precision, const CommonOptions& o, const Timing& t);

}  // namespace bcp::bench
