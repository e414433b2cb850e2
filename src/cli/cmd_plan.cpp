// `bcp plan ROOT`: what `bcp prepare` measured of a data root (its fingerprint) and the training
// plan made from it, one line a decision with its reason.
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bcp/io/json_file.h"
#include "bcp/train/plan.h"
#include "command.h"
#include "path_option.h"

namespace {

struct PlanArgs {
  std::string root;
  bool json = false;
};

void run_plan(const PlanArgs& a) {
  const std::string manifest = (std::filesystem::path(a.root) / "bcp_dataset.json").string();
  if (!std::filesystem::is_regular_file(manifest))
    throw std::runtime_error(manifest + ": not found (bcp plan reads a root made by bcp prepare)");
  const nlohmann::json j = bcp::io::read_json_file(manifest);
  if (!j.is_object() || !j.contains("fingerprint"))
    throw std::runtime_error(manifest +
                             ": no fingerprint (prepared by an older bcp: run bcp prepare again)");
  bcp::data::PreparedDataset fingerprint;
  try {
    fingerprint = bcp::data::fingerprint_from_json(j["fingerprint"]);
  } catch (const std::exception& e) {
    throw std::runtime_error(manifest + ": " + e.what());
  }
  const bcp::train::Plan plan = bcp::train::plan_for(fingerprint);
  if (a.json) {
    std::cout << bcp::train::config_to_json(plan.config).dump(2) << "\n";
    return;
  }
  std::cout << bcp::train::plan_text(fingerprint, plan);
  const auto config = std::filesystem::path(a.root) / "bcp.json";
  if (std::filesystem::is_regular_file(config) &&
      bcp::io::read_json_file(config.string()) != bcp::train::config_to_json(plan.config))
    std::cout << "note      " << config.string()
              << " differs from this plan (edited, or made by another bcp); train reads it\n";
}

void setup_plan(CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  auto* cmd = app.add_subcommand(
      "plan", "Print the training plan of a prepared data root and the reasons for it");
  cmd->add_option("root", args->root, "Data root written by bcp prepare")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_flag("--json", args->json, "Print the plan's training config as JSON instead");
  cmd->callback([args] { run_plan(*args); });
}

}  // namespace

BCP_REGISTER_COMMAND("plan", setup_plan);
