// Flags shared by `bcp config`, `bcp train`: a config file or a named preset, plus overrides.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "bcp/train/config.h"

#include "path_option.h"

namespace bcp::cli {

struct ConfigArgs {
  std::string file;               ///< --config FILE
  std::string preset;             ///< --preset acdc-5-bcp
  std::vector<std::string> sets;  ///< --set key=value (repeatable)
};

inline void add_config_args(CLI::App& cmd, ConfigArgs& a) {
  auto* file =
      cmd.add_option("--config", a.file, "Experiment config (JSON), e.g. configs/acdc_5_bcp.json")
          ->check(bcp::cli::non_empty_path());
  auto* preset =
      cmd.add_option("--preset", a.preset,
                     "Built-in preset DATASET-PERCENT-METHOD, e.g. acdc-5-bcp, la-10-mean-teacher");
  file->excludes(preset);
  preset->excludes(file);
  cmd.add_option("--set", a.sets,
                 "Override one key: --set schedule.pretrain_iters=600 (repeatable)");
}

/// Parses "acdc-5-bcp" / "la-10-mean-teacher".
inline train::TrainConfig preset_from_name(const std::string& name) {
  auto first = name.find('-');
  auto second = first == std::string::npos ? first : name.find('-', first + 1);
  if (second == std::string::npos)
    throw std::invalid_argument("--preset expects DATASET-PERCENT-METHOD (e.g. acdc-5-bcp), got '" +
                                name + "'");
  int percent = 0;
  try {
    percent = std::stoi(name.substr(first + 1, second - first - 1));
  } catch (const std::exception&) {
    throw std::invalid_argument("--preset: bad percent in '" + name + "'");
  }
  return train::preset(name.substr(0, first), percent, name.substr(second + 1));
}

inline train::TrainConfig resolve_config(const ConfigArgs& a) {
  if (a.file.empty() && a.preset.empty())
    throw CLI::ValidationError("--config", "give --config FILE or --preset NAME");
  train::TrainConfig c = a.file.empty() ? preset_from_name(a.preset) : train::load_config(a.file);
  for (const auto& s : a.sets) train::apply_override(c, s);
  train::validate_config(c);
  return c;
}

}  // namespace bcp::cli
