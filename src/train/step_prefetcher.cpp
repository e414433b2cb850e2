#include "bcp/train/step_prefetcher.h"

#ifdef BCP_HAVE_OPENMP
#include <omp.h>
#endif

#include <ATen/Parallel.h>

#include <sstream>
#include <stdexcept>

namespace bcp::train {

std::string rng_to_string(const std::mt19937_64& rng) {
  std::ostringstream s;
  s << rng;
  return s.str();
}

void rng_from_string(std::mt19937_64& rng, const std::string& text, const std::string& where) {
  std::istringstream s(text);
  if (!(s >> rng)) throw std::runtime_error(where + ": malformed generator state");
}

StepPrefetcher::StepPrefetcher(const TrainConfig& config, const TrainingSet& set, StepKind kind,
                               data::TwoStreamSampler& sampler, std::mt19937_64& rng,
                               bool background)
    : config_(config),
      set_(set),
      kind_(kind),
      sampler_(sampler),
      rng_(rng),
      background_(background) {
  start();
}

StepPrefetcher::~StepPrefetcher() {
  if (pending_.valid()) pending_.wait();
}

StepInputs StepPrefetcher::prepare() {
  auto [li, ui] = sampler_.next();
  return prepare_step_inputs(config_, set_, kind_, li, ui, rng_);
}

void StepPrefetcher::start() {
  sampler_state_ = sampler_.save_state();
  rng_state_ = rng_to_string(rng_);
  if (!background_) return;
  pending_ = std::async(std::launch::async, [this] {
#ifdef BCP_HAVE_OPENMP
    // This thread's LibTorch ops run on one core: the step's thread team has the others. LibTorch
    // sets a new thread's team size on its first parallel op, so let it do so first.
    at::internal::lazy_init_num_threads();
    omp_set_num_threads(1);
#endif
    return prepare();
  });
}

StepInputs StepPrefetcher::next() {
  StepInputs inputs = background_ ? pending_.get() : prepare();
  start();
  return inputs;
}

}  // namespace bcp::train
