// `bcp prepare`: an nnU-Net raw dataset (NIfTI etc.) becomes a bcp data root plus the training
// config for it, so `bcp train --config ROOT/bcp.json --data ROOT` runs on users' own scans.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "bcp/data/prepare.h"
#include "bcp/io/atomic_file.h"
#include "bcp/train/plan.h"
#include "case_progress.h"
#include "command.h"
#include "enum_option.h"
#include "path_option.h"

namespace {

struct PrepareArgs {
  bcp::data::PrepareOptions options;
  std::string dim = "2d";
  std::vector<double> ct_window;
};

void run_prepare(PrepareArgs& a) {
  auto& o = a.options;
  o.dim = a.dim == "3d" ? 3 : 2;
  if (!a.ct_window.empty()) {
    if (!(a.ct_window[0] < a.ct_window[1]))
      throw CLI::ValidationError("--ct-window", "LOW must be below HIGH, got " +
                                                    std::to_string(a.ct_window[0]) + " " +
                                                    std::to_string(a.ct_window[1]));
    o.ct_low = a.ct_window[0];
    o.ct_high = a.ct_window[1];
  }
  std::optional<bcp::train::Plan> plan;
  const std::string config_path = (std::filesystem::path(o.out_dir) / "bcp.json").string();
  // The plan is made (and may fail) before prepare writes its lists and marks the root finished.
  o.before_lists = [&plan](const bcp::data::PreparedDataset& p) {
    plan = bcp::train::plan_for(p);
    return std::vector<std::pair<std::string, std::string>>{
        {"bcp.json", bcp::train::config_to_json(plan->config).dump(2) + "\n"}};
  };
  const auto prepared = [&] {
    auto print = bcp::cli::case_progress();  // its live line is erased when this returns
    return bcp::data::prepare_nnunet(o, [print](const std::string& name, size_t i, size_t n) {
      print("[" + std::to_string(i + 1) + "/" + std::to_string(n) + "] " + name);
    });
  }();
  std::cout << bcp::train::plan_text(prepared, *plan);
  std::cout << "prepared " << prepared.labeled_cases.size() << " labeled training, "
            << prepared.unlabeled_cases.size() << " unlabeled and " << prepared.val_cases.size()
            << " validation cases (" << prepared.class_names.size() << " classes, intensity "
            << bcp::util::name_of(prepared.intensity.kind) << ") into " << o.out_dir << "\n"
            << "plan:       bcp plan " << o.out_dir << "\n"
            << "train with: bcp train --config " << config_path << " --data " << o.out_dir
            << " --out RUN\n";
}

void setup_prepare(CLI::App& app) {
  auto args = std::make_shared<PrepareArgs>();
  auto& o = args->options;
  auto* cmd = app.add_subcommand(
      "prepare", "Turn an nnU-Net raw dataset (plus unlabeled scans) into a bcp data root");
  cmd->add_option("--nnunet", o.nnunet_dir,
                  "nnU-Net v2 raw dataset folder (dataset.json, imagesTr, labelsTr)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--unlabeled", o.unlabeled_dir,
                  "Folder of unlabeled images named like imagesTr (CASE_0000.nii.gz)")
      ->check(bcp::cli::non_empty_path());
  cmd->add_option("--dim", args->dim, "2d (slices, 2D UNet) or 3d (volumes, VNet)")
      ->required()
      ->check(CLI::IsMember({"2d", "3d"}));
  cmd->add_option("--out", o.out_dir, "New data root (must not exist or be empty)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  bcp::cli::add_enum_option(*cmd, "--intensity", o.intensity,
                            "Per-volume normalisation; auto (default): CT window for CT, else 2d "
                            "minmax / 3d zscore");
  cmd->add_option("--ct-window", args->ct_window, "CT window LOW HIGH (default -1000 1000)")
      ->expected(2);
  cmd->add_option("--val-fraction", o.val_fraction,
                  "Share of labeled cases held out for validation")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (text.empty() || *end != '\0' || !(v > 0 && v < 1))
              return "must be a number above 0 and below 1, got '" + text + "'";
            return {};
          },
          "(0, 1)"));
  cmd->add_option("--val-cases", o.val_cases,
                  "Validation cases by name (overrides the seeded split)")
      ->delimiter(',');
  cmd->add_option("--seed", o.seed, "Seed of the validation split")->capture_default_str();
  cmd->callback([args] { run_prepare(*args); });
}

}  // namespace

BCP_REGISTER_COMMAND("prepare", setup_prepare);
