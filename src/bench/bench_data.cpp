#include "bench_data.h"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <stdexcept>

#include "bcp/data/case_list.h"
#include "bcp/data/la.h"
#include "bcp/data/synth.h"
#include "bcp/util/threads.h"

namespace bcp::bench {

int bench_threads(int threads, int64_t local_ranks) {
  if (threads < 0) throw std::invalid_argument("bench: threads must be >= 0");
  return static_cast<int>(util::threads_or_default(threads, local_ranks));
}

void set_threads(int threads) {
  torch::set_num_threads(bench_threads(threads, 1));
}

train::TrainingSet bench_training_set(train::TrainConfig& c, const std::string& root) {
  if (!root.empty()) {
    // Loading the whole unlabeled pool would time the disk, not the step.
    c.data.unlabeled = 2 * c.batch.unlabeled;
    return train::load_training_set(c, root);
  }
  train::TrainingSet set;
  const int64_t need_labeled = c.batch.labeled, need_unlabeled = c.batch.unlabeled;
  auto add = [&set](const data::Sample& s, const std::string& name) {
    set.names.push_back(name);
    set.images.push_back(s.image);
    set.labels.push_back(s.label);
  };
  if (c.dataset == data::Dataset::kAcdc) {
    data::SynthAcdcOptions so;
    so.min_side = so.max_side = 216;  // real ACDC slices are about this size before the zoom
    for (int patient = 1; set.size() < need_labeled + need_unlabeled; ++patient) {
      for (int frame = 1; frame <= 2; ++frame) {
        data::Sample v = data::synth_acdc_volume(so, patient, frame);
        for (int64_t z = 0; z < v.image.size(0); ++z)
          add({v.image[z].contiguous(), v.label[z].contiguous(), ""}, v.name);
      }
    }
  } else {
    data::SynthLaOptions so;
    so.size_x = 144;
    so.size_y = 144;
    so.size_z = 88;
    // Two distinct volumes, repeated: the step's cost does not depend on which volume it is.
    const data::Sample a = data::synth_la_volume(so, 0), b = data::synth_la_volume(so, 1);
    for (int64_t i = 0; i < need_labeled + need_unlabeled; ++i) add(i % 2 ? b : a, "synth");
  }
  set.labeled = need_labeled;
  c.data.labeled = need_labeled;
  return set;
}

data::Sample bench_volume(data::Dataset dataset, const std::string& root,
                          const std::string& case_name) {
  if (!root.empty()) {
    std::string name = case_name;
    if (name.empty()) {
      const auto list = dataset == data::Dataset::kAcdc ? data::AcdcRoot(root).list_path("val.list")
                                                        : data::LaRoot(root).list_path("val.list");
      const auto names = data::read_case_list(list);
      if (names.empty()) throw std::runtime_error(list + ": no cases");
      name = names.front();
    }
    return dataset == data::Dataset::kAcdc ? data::load_acdc_volume(data::AcdcRoot(root), name)
                                           : data::load_la_volume(data::LaRoot(root), name);
  }
  if (dataset == data::Dataset::kAcdc) {
    data::SynthAcdcOptions so;
    so.min_side = 200;
    so.max_side = 232;
    so.min_slices = so.max_slices = 10;
    return data::synth_acdc_volume(so, 1, 1);
  }
  data::SynthLaOptions so;
  so.size_x = 193;
  so.size_y = 159;
  so.size_z = 88;
  return data::synth_la_volume(so, 0);
}

nlohmann::json common_row(const std::string& benchmark, const std::string& dataset,
                          const std::string& precision, const CommonOptions& o, const Timing& t) {
  return {{"benchmark", benchmark},
          {"dataset", dataset},
          {"precision", precision},
          {"device", o.device},
          {"threads", torch::get_num_threads()},
          {"data", o.data_root.empty() ? "synthetic" : o.data_root},
          {"seconds_median", t.median()},
          {"seconds_min", t.min()},
          {"seconds", t.seconds},
          {"repeats", static_cast<int>(t.seconds.size())},
          {"warmup", o.warmup},
          {"peak_memory_mib", peak_memory_mib()}};
}

}  // namespace bcp::bench
