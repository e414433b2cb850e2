// `bcp synth`: writes a synthetic ACDC- or LA-layout dataset so every command runs without
// the real data.
#include <iostream>
#include <memory>

#include "bcp/data/synth.h"
#include "bcp/io/output_rules.h"
#include "command.h"
#include "path_option.h"

namespace {

struct SynthArgs {
  std::string kind;
  std::string format = "hdf5";
  std::string out;
  int unlabeled = -1;
  int channels = -1;
  uint64_t seed = 0;
  int cases = -1;
  int val = -1;
  int test = -1;
  std::vector<int64_t> size;
  int classes = 0;
  double size_jitter = -1;
  std::vector<double> spacing;
  bool mixed_dtypes = false;
  bool partial_labels = false;
};

void run_nnunet(const SynthArgs& a) {
  if (a.val >= 0) throw std::invalid_argument("--val applies to --format hdf5 only");
  bcp::data::SynthNnunetOptions o;
  o.seed = a.seed;
  o.dim = a.kind == "acdc" ? 2 : 3;
  if (!a.size.empty() && o.dim == 2)
    throw std::invalid_argument("--size applies to --kind la only");
  if (a.cases >= 0) o.labeled = a.cases;
  if (a.unlabeled >= 0) o.unlabeled = a.unlabeled;
  if (a.test >= 0) o.test = a.test;
  if (a.channels >= 0) o.channels = a.channels;
  if (!a.size.empty()) {
    o.size_x = a.size[0];
    o.size_y = a.size[1];
    o.size_z = a.size[2];
  }
  o.classes = a.classes;
  if (a.size_jitter >= 0) {
    if (o.dim == 2) throw std::invalid_argument("--size-jitter applies to --kind la only");
    o.size_jitter = a.size_jitter;
  }
  o.spacing = a.spacing;
  o.mixed_dtypes = a.mixed_dtypes;
  o.partial_labels = a.partial_labels;
  bcp::data::write_synth_nnunet(a.out, o);
  std::cout << "wrote a synthetic nnU-Net dataset (" << (o.dim == 2 ? "cardiac" : "atrium")
            << ", NIfTI) to " << a.out << ": " << o.labeled << " labeled, " << o.unlabeled
            << " unlabeled, " << o.test << " test cases\n";
}

void run_synth(const SynthArgs& a) {
  // Same-named scans, lists and dataset.json would replace the user's.
  bcp::io::refuse_non_empty_folder(a.out, "a synthetic dataset");
  if (a.format == "nnunet") return run_nnunet(a);
  if (a.classes != 0 || a.size_jitter >= 0 || !a.spacing.empty() || a.mixed_dtypes ||
      a.partial_labels)
    throw std::invalid_argument(
        "--classes, --size-jitter, --spacing, --mixed-dtypes and --partial-labels apply to "
        "--format nnunet only");
  if (a.unlabeled >= 0) throw std::invalid_argument("--unlabeled applies to --format nnunet only");
  if (a.channels >= 0) throw std::invalid_argument("--channels applies to --format nnunet only");
  if (a.kind == "acdc") {
    if (!a.size.empty()) throw std::invalid_argument("--size applies to --kind la only");
    bcp::data::SynthAcdcOptions o;
    o.seed = a.seed;
    if (a.cases >= 0) o.train_patients = a.cases;
    if (a.val >= 0) o.val_patients = a.val;
    if (a.test >= 0) o.test_patients = a.test;
    bcp::data::write_synth_acdc(a.out, o);
    std::cout << "wrote synthetic ACDC to " << a.out << ": " << o.train_patients << " train, "
              << o.val_patients << " val, " << o.test_patients
              << " test patients (2 frames each)\n";
  } else {
    bcp::data::SynthLaOptions o;
    o.seed = a.seed;
    if (a.cases >= 0) o.train_cases = a.cases;
    if (a.val >= 0) o.val_cases = a.val;
    if (a.test >= 0) o.test_cases = a.test;
    if (!a.size.empty()) {
      o.size_x = a.size[0];
      o.size_y = a.size[1];
      o.size_z = a.size[2];
    }
    bcp::data::write_synth_la(a.out, o);
    std::cout << "wrote synthetic LA to " << a.out << ": " << o.train_cases << " train, "
              << o.val_cases << " val, " << o.test_cases << " test volumes of " << o.size_x << "x"
              << o.size_y << "x" << o.size_z << "\n";
  }
}

void setup_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "synth", "Write a synthetic dataset in the real ACDC or LA layout (deterministic per seed)");
  auto args = std::make_shared<SynthArgs>();
  cmd->add_option("--kind", args->kind, "Dataset layout: acdc or la")
      ->required()
      ->check(CLI::IsMember({"acdc", "la"}));
  cmd->add_option("--format", args->format,
                  "hdf5 (the authors' layout) or nnunet (NIfTI in nnU-Net v2 raw layout, with "
                  "raw intensities and scanner-like geometry, for `bcp prepare`)")
      ->capture_default_str()
      ->check(CLI::IsMember({"hdf5", "nnunet"}));
  cmd->add_option(
         "--channels", args->channels,
         "nnunet: image channels, CASE_0000 .. (default 1; the others are other contrasts)")
      ->check(CLI::Range(1, 8));
  cmd->add_option("--unlabeled", args->unlabeled, "nnunet: unlabeled cases (default 6)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--out", args->out, "Output folder (created; lists are written last)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--seed", args->seed, "Random seed; the same seed gives the same files")
      ->capture_default_str();
  cmd->add_option("--cases", args->cases,
                  "Training patients (acdc, default 20) or training volumes (la, default 8); "
                  "nnunet: labeled cases (default 6)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--val", args->val, "Validation patients/volumes (default acdc 4, la 2)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--test", args->test, "Test patients/volumes (default acdc 4, la 2)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--size", args->size, "LA volume size X Y Z (default 96 96 64; nnunet 64 64 48)")
      ->expected(3)
      ->check(CLI::Range(int64_t{8}, int64_t{1024}));
  cmd->add_option("--classes", args->classes,
                  "nnunet: classes with background (acdc 4 or 2, la 2 or 3: + the atrial wall)")
      ->check(CLI::IsMember({2, 3, 4}));
  cmd->add_option("--size-jitter", args->size_jitter,
                  "nnunet, la: each case's size per axis varies by up to this fraction")
      ->check(CLI::Range(0.0, 0.9));
  cmd->add_option("--spacing", args->spacing, "nnunet: voxel spacing x,y,z in mm for every case")
      ->delimiter(',')
      ->expected(3)
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--mixed-dtypes", args->mixed_dtypes,
                "nnunet: odd cases' images float32, every third label float32 (whole numbers)");
  cmd->add_flag("--partial-labels", args->partial_labels,
                "nnunet: labels leave every other slice and a band of rows unannotated "
                "(dataset.json's \"ignore\" label)");
  cmd->callback([args] { run_synth(*args); });
}

}  // namespace

BCP_REGISTER_COMMAND("synth", setup_synth);
