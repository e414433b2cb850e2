// `bcp evaluate`: a checkpoint on a split of ACDC or LA with the paper's evaluation protocol
// (ACDC slice-wise at 256x256, LA sliding window), printing the paper-style table.
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "bcp/eval/evaluate.h"
#include "case_progress.h"
#include "command.h"
#include "enum_option.h"
#include "number_checks.h"
#include "path_option.h"

namespace {

void setup_evaluate(CLI::App& app) {
  auto opts = std::make_shared<bcp::eval::EvaluateOptions>();
  auto* cmd = app.add_subcommand(
      "evaluate", "Evaluate a checkpoint on a case list (Dice, Jaccard, 95HD, ASD in voxels)");
  cmd->add_option("--model", opts->model_path,
                  "Checkpoint (bcp tensor archive: saved model or trainer checkpoint)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--data", opts->data_root, "Dataset root (ACDC or LA folder)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--list", opts->list_name, "Case list inside the root, e.g. val.list")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--out", opts->out_dir, "Output folder: metrics.json, metrics.csv, predictions/")
      ->check(bcp::cli::non_empty_path())
      ->required();
  auto dataset = std::make_shared<bcp::data::Dataset>();
  CLI::Option* dataset_option = bcp::cli::add_enum_option(*cmd, "--dataset", *dataset,
                                                          "Protocol (default: the checkpoint's)");
  cmd->add_option("--network", opts->model_prefix,
                  "Network inside a trainer checkpoint: \"\" (student, default) or teacher");
  cmd->add_option("--device", opts->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--window-batch", opts->window_batch,
                  "LA: sliding windows per network call (1 = the authors' behaviour)")
      ->capture_default_str()
      ->check(bcp::cli::positive());
  bcp::cli::add_enum_option(*cmd, "--precision", opts->precision,
                            "Default fp32; bf16: a bf16 copy of the network (labels agree with "
                            "fp32 on >99.9% of voxels of a trained model)");
  bcp::cli::add_enum_option(*cmd, "--format", opts->prediction_format,
                            "Prediction files, default h5");
  cmd->add_flag_function(
      "--no-predictions", [opts](int64_t) { opts->save_predictions = false; },
      "Do not write predictions/");
  cmd->callback([opts, dataset, dataset_option] {
    if (dataset_option->count() > 0) opts->dataset = *dataset;
    opts->progress = [print = bcp::cli::case_progress()](const std::string& name, size_t i,
                                                         size_t n) {
      print("[" + std::to_string(i + 1) + "/" + std::to_string(n) + "] " + name);
    };
    const bcp::eval::ScoreReport report = bcp::eval::evaluate(*opts);
    opts->progress = nullptr;  // the last copy: erases the live line before the table
    std::cout << bcp::eval::format_table(report) << "wrote "
              << (std::filesystem::path(opts->out_dir) / "metrics.json").string() << "\n";
  });
}

}  // namespace

BCP_REGISTER_COMMAND("evaluate", setup_evaluate);
