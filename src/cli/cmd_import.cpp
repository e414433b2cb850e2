// `bcp import`: a PyTorch .pth checkpoint (e.g. the BCP authors' released weights) converted into
// a bcp checkpoint that `bcp evaluate --model` reads, without running anything from the .pth.
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "bcp/data/recipe.h"
#include "bcp/nets/model_archive.h"
#include "bcp/nets/pth_import.h"
#include "bcp/train/config.h"
#include "command.h"
#include "enum_option.h"
#include "path_option.h"

namespace {

struct ImportArgs {
  std::string pth;
  bcp::nets::Arch arch = bcp::nets::Arch::kUNet2d;
  int64_t classes = 0;
  int64_t in_channels = 1;
  std::string out;
  bcp::data::Dataset dataset = bcp::data::Dataset::kAcdc;
  CLI::Option* dataset_option = nullptr;
};

void run_import(const ImportArgs& a) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(a.out) && fs::equivalent(a.pth, a.out, ec))
    throw CLI::ValidationError("--out", a.out + " is the .pth being imported; name another file");
  const fs::path out_dir = fs::path(a.out).parent_path();
  if (fs::is_directory(a.out))
    throw CLI::ValidationError("--out", a.out + " is a folder; name the checkpoint file to write");
  if (!out_dir.empty() && !fs::is_directory(out_dir))
    throw std::runtime_error(out_dir.string() + ": folder does not exist (for --out " + a.out +
                             ")");
  if (a.dataset_option->count() > 0 && bcp::train::arch_for(a.dataset) != a.arch)
    throw CLI::ValidationError(
        "--dataset", std::string(bcp::util::name_of(a.dataset)) + " needs the " +
                         std::string(bcp::util::name_of(bcp::train::arch_for(a.dataset))) +
                         " network, not --arch " + std::string(bcp::util::name_of(a.arch)));
  bcp::nets::ModelConfig config;
  config.arch = a.arch;
  config.in_channels = a.in_channels;
  config.num_classes = a.classes;
  const bcp::nets::PthImport imported = bcp::nets::import_pth(a.pth, config);

  const std::string source = std::filesystem::path(a.pth).filename().string();
  const bcp::data::Dataset dataset =
      a.dataset_option->count() > 0 ? a.dataset
                                    : bcp::data::reference_dataset(bcp::nets::spatial_dims(a.arch));
  const nlohmann::json extra = {
      {"imported_from", source}, {"dataset", dataset}, {"ignored_keys", imported.ignored_keys}};
  bcp::nets::save_model(a.out, *imported.model, config, extra);

  std::cout << "imported " << source
            << (imported.location.empty() ? "" : " ['" + imported.location + "']") << " as "
            << bcp::util::name_of(a.arch) << " (" << a.in_channels << " -> " << a.classes
            << " classes, " << bcp::util::name_of(dataset) << ") into " << a.out << ": "
            << imported.loaded << " tensors loaded, " << imported.ignored_keys.size()
            << " unused keys ignored"
            << (imported.ignored_keys.empty() ? "" : " (listed in meta extra.ignored_keys)")
            << "\n";
}

void setup_import(CLI::App& app) {
  auto args = std::make_shared<ImportArgs>();
  auto* cmd = app.add_subcommand(
      "import",
      "Convert a PyTorch .pth (torch.save zip format) into a bcp checkpoint. Only tensors and "
      "plain values are read: a .pth that names any code is refused, never run");
  // No CLI::ExistingFile: import_pth's own one-line error names the file and the problem.
  cmd->add_option("--pth", args->pth,
                  "The .pth: a state dict, or a dict holding one under 'state_dict', 'net', "
                  "'model', 'model_state_dict' or 'student'")
      ->check(bcp::cli::non_empty_path())
      ->required();
  bcp::cli::add_enum_option(*cmd, "--arch", args->arch, "Network of the weights")->required();
  cmd->add_option("--classes", args->classes, "Output classes, background included (ACDC 4, LA 2)")
      ->required()
      ->check(CLI::Range(2, 256));
  cmd->add_option("--in-channels", args->in_channels, "Image channels")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, bcp::nets::kMaxInChannels));
  cmd->add_option("--out", args->out, "The bcp checkpoint to write")
      ->check(bcp::cli::non_empty_path())
      ->required();
  args->dataset_option =
      bcp::cli::add_enum_option(*cmd, "--dataset", args->dataset,
                                "Recorded for `bcp evaluate` (default: unet2d acdc, vnet la)");
  cmd->callback([args] { run_import(*args); });
}

}  // namespace

BCP_REGISTER_COMMAND("import", setup_import);
