// What may change between a run and its `--resume`: a resumed run must be the same experiment,
// continued. Changing the method, dataset, network, data, optimiser or mixing constants would
// silently splice two experiments into one checkpoint, so those are refused; so is a resume on
// other training cases. The trainer runs these checks before it writes anything.
#pragma once
#include <string>
#include <vector>

#include "bcp/train/config.h"
#include "bcp/train/train_state.h"

namespace bcp::train {

/// Keys that may differ on resume: how long (iteration counts may grow), how often to validate,
/// log and save, and where and with how many threads to run. The schedule keeps its meaning: with
/// "poly" more iterations change the learning rate from the resumed iteration on.
const std::vector<std::string>& resume_safe_keys();

/// The dotted keys whose values differ between `saved` (the checkpoint's config) and `requested`
/// and may not differ, each with both values ("method: saved \"bcp\", requested \"supervised\"").
/// Fewer iterations than saved count as a conflict. Empty when the resume is allowed.
std::vector<std::string> resume_conflicts(const TrainConfig& saved, const TrainConfig& requested);

/// Refuses (std::invalid_argument) a resume of `checkpoint` under `requested` that
/// resume_conflicts names, listing them; std::runtime_error when the file is no training
/// checkpoint or its saved config is unreadable.
void check_resume_config(const std::string& checkpoint, const TrainConfig& requested);

/// The stage, iteration and training cases (LoopState::cases) of a checkpoint, read without its
/// tensors; the other fields stay at their defaults.
LoopState peek_loop(const std::string& checkpoint);

/// Refuses (std::invalid_argument) a resume whose training cases (`now`, cases_fingerprint of
/// config.data.train_list under `data_root`) are not the ones the checkpoint's run trained on
/// (`saved`; "" = unknown, allowed).
void check_resume_cases(const std::string& checkpoint, const std::string& saved,
                        const std::string& now, const TrainConfig& config,
                        const std::string& data_root);

}  // namespace bcp::train
