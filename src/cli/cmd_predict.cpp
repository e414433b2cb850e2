// `bcp predict`: a checkpoint segments new scans (NIfTI, NRRD, MHA, HDF5); masks keep the
// input's name, format and geometry.
#include <cstdio>
#include <iostream>
#include <memory>

#include "bcp/eval/predict.h"
#include "case_progress.h"
#include "command.h"
#include "enum_option.h"
#include "path_option.h"

namespace {

void setup_predict(CLI::App& app) {
  auto o = std::make_shared<bcp::eval::PredictOptions>();
  auto* cmd = app.add_subcommand(
      "predict", "Segment scans with a checkpoint; masks keep each input's name and geometry");
  cmd->add_option("--model", o->model_path, "Checkpoint (bcp train, bcp import)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--input", o->input, "A scan or a folder of scans (.nii[.gz], .nrrd, .mha, .h5)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--out", o->out_dir, "Output folder for the masks (created)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--network", o->model_prefix,
                  "Network inside a trainer checkpoint: \"\" (student, default) or teacher");
  cmd->add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  bcp::cli::add_enum_option(*cmd, "--precision", o->precision, "Default fp32");
  bcp::cli::add_enum_option(*cmd, "--largest-component", o->largest_component,
                            "auto (default; 3D models: yes, as the authors' LA protocol; 2D: no), "
                            "on (every class) or off");
  cmd->add_flag(
      "--save-probabilities", o->save_probabilities,
      "Also write OUT/probabilities/NAME.h5: class probabilities (C, mask axes), float32");
  cmd->callback([o] {
    o->progress = [print = bcp::cli::case_progress()](const bcp::eval::PredictedCase& c, size_t i,
                                                      size_t n) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.1f", c.seconds);
      print("[" + std::to_string(i + 1) + "/" + std::to_string(n) + "] " + c.input + " -> " +
            c.output + " (" + secs + " s)");
    };
    o->note = [](const std::string& n) { std::cerr << "bcp predict: note: " << n << "\n"; };
    const auto done = bcp::eval::predict(*o);
    o->progress = nullptr;  // the last copy: erases the live line before the summary
    std::cout << "wrote " << done.size() << " mask" << (done.size() == 1 ? "" : "s") << " to "
              << o->out_dir << "\n";
  });
}

}  // namespace

BCP_REGISTER_COMMAND("predict", setup_predict);
