// Batch assembly off the critical path: while step t runs, a background thread samples step
// t + 1's indices and draws its augmentation and mask. The draws use the same sampler and
// generator, in the same order, as drawing them just before each step, so a run is identical
// with and without prefetching; a checkpoint saves the states from before the inputs that were
// prepared but not yet consumed, so resume stays exact.
#pragma once
#include <future>
#include <random>
#include <string>

#include "bcp/data/two_stream_sampler.h"
#include "bcp/train/steps.h"

namespace bcp::train {

class StepPrefetcher {
 public:
  /// Starts preparing the first step at once. `sampler` and `rng` must outlive the prefetcher
  /// and must not be touched by anyone else while it exists. `background` false prepares each
  /// step's inputs when they are asked for (same inputs, nothing runs concurrently).
  StepPrefetcher(const TrainConfig& config, const TrainingSet& set, StepKind kind,
                 data::TwoStreamSampler& sampler, std::mt19937_64& rng, bool background = true);
  /// Waits for a preparation still running (its inputs are dropped).
  ~StepPrefetcher();
  StepPrefetcher(const StepPrefetcher&) = delete;
  StepPrefetcher& operator=(const StepPrefetcher&) = delete;

  /// The next step's inputs; starts preparing the one after.
  StepInputs next();
  /// The sampler's and the generator's states before the inputs not handed out yet: what a
  /// checkpoint saves so that a resumed run draws them again.
  const std::string& sampler_state() const { return sampler_state_; }
  const std::string& rng_state() const { return rng_state_; }

 private:
  StepInputs prepare();
  void start();

  const TrainConfig& config_;
  const TrainingSet& set_;
  StepKind kind_;
  data::TwoStreamSampler& sampler_;
  std::mt19937_64& rng_;
  bool background_;
  std::string sampler_state_;
  std::string rng_state_;
  std::future<StepInputs> pending_;
};

/// A generator's state as text (operator<<), and back (throws naming `where` when malformed).
std::string rng_to_string(const std::mt19937_64& rng);
void rng_from_string(std::mt19937_64& rng, const std::string& text, const std::string& where);

}  // namespace bcp::train
