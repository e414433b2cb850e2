// The steps of a user's own-data run through the CLI, shared by the own-data tests: a synthetic
// nnU-Net raw folder -> `bcp prepare` -> (train) -> `bcp predict` on imagesTs -> `bcp score`.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../support.h"

namespace bcp::test {

inline nlohmann::json read_json_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

/// The folders of one own-data run under a test's temporary folder.
struct OwnData {
  std::filesystem::path raw, root, run, masks, score;
  explicit OwnData(const std::filesystem::path& dir)
      : raw(dir / "raw"),
        root(dir / "root"),
        run(dir / "run"),
        masks(dir / "masks"),
        score(dir / "score.json") {}

  /// `bcp synth --format nnunet SYNTH`, then `bcp prepare --dim DIM` (with the unlabeled scans
  /// when `unlabeled`; `prepare_args` e.g. "--val-cases synth_001"). Returns prepare's output;
  /// a failing command fails the test (check with HasFatalFailure()).
  std::string synth_and_prepare(const std::string& synth, const std::string& dim,
                                bool unlabeled = true, const std::string& prepare_args = "") {
    auto r = run_cli("synth --format nnunet " + synth + " --out " + quoted(raw));
    EXPECT_EQ(r.rc, 0) << r.output;
    if (r.rc != 0) return r.output;
    r = run_cli("prepare --nnunet " + quoted(raw) +
                (unlabeled ? " --unlabeled " + quoted(raw / "unlabeledTr") : std::string()) +
                " --dim " + dim + " " + prepare_args + " --out " + quoted(root));
    EXPECT_EQ(r.rc, 0) << r.output;
    return r.output;
  }

  /// `bcp train --config ROOT/bcp.json --data ROOT --out RUN ARGS`.
  RunResult train(const std::string& args) const {
    return run_cli("train --config " + quoted(root / "bcp.json") + " --data " + quoted(root) +
                   " --out " + quoted(run) + " " + args);
  }

  /// `bcp predict` of RUN/best.h5 on imagesTs, then `bcp score` against labelsTs; the report.
  nlohmann::json predict_and_score(int classes, const std::string& predict_args = "") const {
    auto r = run_cli("predict --model " + quoted(run / "best.h5") + " --input " +
                     quoted(raw / "imagesTs") + " --out " + quoted(masks) + " " + predict_args);
    EXPECT_EQ(r.rc, 0) << r.output;
    if (r.rc != 0) return {};
    r = run_cli("score --pred " + quoted(masks) + " --ref " + quoted(raw / "labelsTs") +
                " --classes " + std::to_string(classes) + " --out " + quoted(score));
    EXPECT_EQ(r.rc, 0) << r.output;
    if (r.rc != 0) return {};
    return read_json_file(score);
  }
};

}  // namespace bcp::test
