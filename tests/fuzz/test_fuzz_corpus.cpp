// Replays the fuzz corpus (fuzz/corpus/<target>/: seeds and fixed findings) through the fuzz
// targets in the normal build, so every input that once broke a parser keeps being checked.
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "../../fuzz/targets.h"
#include "../support.h"

namespace fs = std::filesystem;

namespace {

const fs::path kCorpus = bcp::test::source_dir() / "fuzz" / "corpus";

}  // namespace

TEST(FuzzCorpus, EveryCommittedInputPassesThroughItsTarget) {
  const std::map<std::string, int (*)(const uint8_t*, size_t)> targets = {
      {"pickle", bcp::fuzz::pickle},
      {"config", bcp::fuzz::config},
      {"case_list", bcp::fuzz::case_list},
      {"eval_protocol", bcp::fuzz::eval_protocol}};
  for (const auto& [name, fn] : targets) {
    int inputs = 0;
    for (const auto& entry : fs::directory_iterator(kCorpus / name)) {
      const std::string bytes = bcp::test::read_file_bytes(entry.path());
      SCOPED_TRACE(entry.path().string());
      EXPECT_EQ(fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
      ++inputs;
    }
    EXPECT_GT(inputs, 0) << name << ": empty corpus";
  }
}

TEST(FuzzCorpus, SeedPicklesAreWhatTorchSaveWrites) {
  // The seeds reach deep into the unpickler only if it accepts them: state dicts, nested.
  const std::string p2 = bcp::test::read_file_bytes(kCorpus / "pickle" / "state_dict_p2");
  EXPECT_EQ(bcp::nets::describe_pickle(p2.data(), p2.size()),
            "dict with keys 'conv.weight', 'conv.bias', 'bn.num_batches_tracked', 'view', 'mask'");
  const std::string p4 = bcp::test::read_file_bytes(kCorpus / "pickle" / "state_dict_p4");
  EXPECT_NE(bcp::nets::describe_pickle(p4.data(), p4.size()).find("'conv.weight'"),
            std::string::npos);
  const std::string nested = bcp::test::read_file_bytes(kCorpus / "pickle" / "nested_net");
  EXPECT_NE(bcp::nets::describe_pickle(nested.data(), nested.size()).find("'net'"),
            std::string::npos);
  // Cut anywhere, a pickle is refused with a message, never read past its end.
  for (size_t n = 0; n < p2.size(); ++n)
    EXPECT_THROW(bcp::nets::describe_pickle(p2.data(), n), std::runtime_error) << n;
}

TEST(FuzzCorpus, TheSharedCheckpointsPicklesPassToo) {
  const fs::path dir = bcp::test::shared_dir() / "parity" / "checkpoints";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "SKIPPED: needs " << dir;
  int read = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".pth") continue;
    std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
    try {
      reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(entry.path().string());
    } catch (const std::exception&) {
      continue;  // legacy (non-zip) files: `bcp import` refuses them before any pickle
    }
    if (!reader->hasRecord("data.pkl")) continue;
    auto [ptr, n] = reader->getRecord("data.pkl");
    const auto* bytes = static_cast<const uint8_t*>(ptr.get());
    EXPECT_EQ(bcp::fuzz::pickle(bytes, n), 0) << entry.path();
    ++read;
  }
  EXPECT_GT(read, 0);
}
