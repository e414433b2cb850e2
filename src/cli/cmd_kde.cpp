// `bcp kde`: the paper's labeled-vs-unlabeled feature density analysis.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bcp/analysis/feature_kde.h"
#include "command.h"
#include "number_checks.h"
#include "path_option.h"

namespace {

void setup_kde(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "kde",
      "The paper's feature KDE: labeled vs unlabeled decoder features per class (overlap, "
      "KS distance, plots)");
  auto o = std::make_shared<bcp::analysis::KdeOptions>();
  cmd->add_option("--model", o->model_path, "Training checkpoint, e.g. RUN/best.h5")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--data", o->data_root, "Dataset root it was trained on")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--out", o->out_dir, "Output folder: kde.json, kde_class<C>.png")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--class", o->classes, "Foreground class (repeatable; default: all)")
      ->check(CLI::Range(1, 255));
  cmd->add_option("--batch", o->batch, "Labeled and unlabeled training slices (LA: volumes) drawn")
      ->check(CLI::Range(1, 4096))
      ->default_val(24);
  cmd->add_option("--max-pixels", o->max_pixels, "Pixels kept per class and side")
      ->check(CLI::Range(2, 1000000))
      ->default_val(500);
  cmd->add_option("--bw-adjust", o->bw_adjust, "Bandwidth: Scott's rule times this")
      ->check(bcp::cli::positive())
      ->default_val(0.5);
  cmd->add_option("--seed", o->seed, "Random seed of the draws")->default_val(1337);
  cmd->add_option("--device", o->device, "cpu, cuda, cuda:N")->default_val("cpu");
  cmd->add_flag(
      "--no-plots", [o](int64_t) { o->plots = false; }, "Only kde.json (no gnuplot)");
  cmd->callback([o] {
    const nlohmann::json r = bcp::analysis::run_kde(*o);
    std::cout << "class  labeled px  unlabeled px  overlap     KS\n" << std::fixed;
    for (const auto& row : r["classes"]) {
      std::cout << std::setw(5) << row["class"].get<int64_t>() << std::setw(12)
                << row["labeled"]["pixels"].get<int64_t>() << std::setw(14)
                << row["unlabeled"]["pixels"].get<int64_t>();
      if (row.contains("overlap"))
        std::cout << std::setw(9) << std::setprecision(3) << row["overlap"].get<double>()
                  << std::setw(7) << row["ks"].get<double>() << "\n";
      else
        std::cout << "  " << row["note"].get<std::string>() << "\n";
    }
    if (r.contains("mean_overlap"))
      std::cout << " mean" << std::setw(35) << std::setprecision(3)
                << r["mean_overlap"].get<double>() << std::setw(7) << r["mean_ks"].get<double>()
                << "\n";
    std::cout << "wrote " << o->out_dir << "/kde.json\n";
  });
}

}  // namespace

BCP_REGISTER_COMMAND("kde", setup_kde);
