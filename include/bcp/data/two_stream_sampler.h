// The labeled + unlabeled batch sampler of SSL4MIS/BCP (TwoStreamBatchSampler), with state that
// can be saved and restored for resume.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace bcp::data {

/// Each call to next() gives labeled_bs labeled and unlabeled_bs unlabeled dataset indices.
///
/// Semantics of the authors' TwoStreamBatchSampler, one "epoch" per pass of the DataLoader:
/// - at the start of an epoch the labeled indices get a fresh permutation and are served in
///   floor(L / labeled_bs) full batches (a ragged tail is dropped, as grouper() drops it);
/// - the unlabeled indices form an endless chain of fresh permutations, served in batches of
///   unlabeled_bs; a batch may straddle two permutations. With `restart_unlabeled_each_epoch`
///   (the authors' behaviour: __iter__ builds a new iterate_eternally) the chain restarts with a
///   fresh permutation at every epoch; without it the chain runs on across epochs.
/// Permutations are Fisher-Yates shuffles driven by a std::mt19937_64 seeded with `seed`
/// (bcp's own unbiased integer draws, so the sequence is the same on every platform). The labeled
/// permutation of an epoch is drawn before its first unlabeled permutation.
class TwoStreamSampler {
 public:
  TwoStreamSampler(std::vector<int64_t> labeled_idx, std::vector<int64_t> unlabeled_idx,
                   int64_t labeled_bs, int64_t unlabeled_bs, uint64_t seed,
                   bool restart_unlabeled_each_epoch = true);

  /// The next (labeled, unlabeled) batch; starts a new epoch when the current one is used up.
  std::pair<std::vector<int64_t>, std::vector<int64_t>> next();

  /// Number of batches in one epoch, floor(L / labeled_bs) (the authors' __len__).
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  /// Epochs started so far (0 before the first next()).
  int64_t epoch() const { return epoch_; }
  /// Batches served so far in total.
  int64_t batches_served() const { return served_; }

  /// Everything needed to resume (generator state, permutations, positions) as text. A sampler
  /// built with the same indices and batch sizes and given this via load_state() continues
  /// exactly as this one would.
  std::string save_state() const;
  /// Restores a save_state() string. Throws std::invalid_argument when it is malformed or was
  /// saved by a sampler with different indices or batch sizes.
  void load_state(const std::string& state);

 private:
  void start_epoch();
  void refill_unlabeled();

  std::vector<int64_t> labeled_, unlabeled_;
  int64_t labeled_bs_, unlabeled_bs_;
  bool restart_unlabeled_;
  int64_t batches_per_epoch_;
  std::mt19937_64 rng_;
  std::vector<int64_t> lperm_, uperm_;  // current permutations
  int64_t lpos_ = 0, upos_ = 0;         // next unread position in each
  int64_t epoch_ = 0, served_ = 0, batch_in_epoch_ = 0;
};

}  // namespace bcp::data
