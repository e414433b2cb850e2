// Importing PyTorch .pth checkpoints: the authors' fixtures (shared/parity/checkpoints) must give
// the reference logits, and every bad file (legacy, malicious, truncated, wrong network) must be
// refused with one line naming it, without running anything. Hand-made pickles cover what the
// fixtures do not (an OrderedDict's `_metadata`, DataParallel keys, crafted views and nesting)
// and run without ../shared.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "../support.h"
#include "bcp/io/h5.h"
#include "bcp/nets/pth_import.h"
#include "bcp/nets/state_dict.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_pth_import {

using namespace bcp::nets;
namespace fs = std::filesystem;

namespace {

// As the fixtures' README states (float32 reference, other conv algorithms and summation order).
constexpr double kLogitTolerance = 1e-4;

using bcp::test::error_of;
using bcp::test::TempDir;

fs::path fixture(const std::string& name) {
  return bcp::test::parity_file("checkpoints/" + name);
}

ModelConfig cfg(const std::string& arch, int64_t classes) {
  ModelConfig c;
  c.arch = bcp::util::parse_enum<bcp::nets::Arch>(arch);
  c.num_classes = classes;
  return c;
}

double max_error_vs_reference(SegmentationNetImpl& net) {
  const std::string ref = bcp::test::parity_file("unet2d.h5").string();
  torch::Tensor input = bcp::io::read_h5(ref, "input");
  torch::Tensor expected = bcp::io::read_h5(ref, "logits");
  torch::NoGradGuard no_grad;
  torch::Tensor logits = net.forward(input);
  EXPECT_EQ(logits.sizes(), expected.sizes());
  return (logits - expected).abs().max().item<double>();
}

void expect_authors_extras_ignored(const PthImport& imported) {
  const auto targets = state_dict(*imported.model);
  for (const auto& key : imported.ignored_keys) EXPECT_EQ(targets.count(key), 0u) << key;
  for (const char* prefix :
       {"projection_head.", "prediction_head.", "contrastive_class_selector_"}) {
    EXPECT_TRUE(std::any_of(imported.ignored_keys.begin(), imported.ignored_keys.end(),
                            [&](const std::string& k) { return k.rfind(prefix, 0) == 0; }))
        << "no ignored key starts with " << prefix;
  }
  EXPECT_EQ(imported.loaded, targets.size());  // the fixtures also hold num_batches_tracked
  EXPECT_TRUE(std::is_sorted(imported.ignored_keys.begin(), imported.ignored_keys.end()));
}

// Where the malicious fixture's payload would create its marker: the system temp folder
// (what the fixture's README says) and /tmp (what its pickle literally names).
std::set<fs::path> marker_paths() {
  return {fs::temp_directory_path() / "bcp_import_executed_code",
          fs::path("/tmp/bcp_import_executed_code")};
}

// ---- hand-made torch.save archives ----------------------------------------------------------

// Writes pickle opcodes as torch.save (protocol 2) does.
class Pickle {
 public:
  Pickle() { b_ += "\x80\x02"; }
  Pickle& op(char c) {
    b_ += c;
    return *this;
  }
  Pickle& str(const std::string& s) {
    b_ += 'X';
    le32(static_cast<uint32_t>(s.size()));
    b_ += s;
    return *this;
  }
  Pickle& int1(uint8_t v) {
    b_ += 'K';
    b_ += static_cast<char>(v);
    return *this;
  }
  Pickle& global(const std::string& module, const std::string& name) {
    b_ += 'c' + module + '\n' + name + '\n';
    return *this;
  }
  Pickle& put(uint8_t id) { return op('q').raw(id); }
  Pickle& get(uint8_t id) { return op('h').raw(id); }
  Pickle& ordered_dict() {  // OrderedDict(): the class memoised in slot 0 as torch.save does
    if (!od_memoised_) {
      global("collections", "OrderedDict").put(0);
      od_memoised_ = true;
    } else {
      get(0);
    }
    return op(')').op('R');
  }
  Pickle& int_tuple(const std::vector<uint8_t>& v) {
    op('(');
    for (uint8_t x : v) int1(x);
    return op('t');
  }
  // torch._utils._rebuild_tensor_v2 of a float storage record data/<key>.
  Pickle& tensor(const std::string& key, uint8_t storage_numel, uint8_t offset,
                 const std::vector<uint8_t>& size, const std::vector<uint8_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(').str("storage").global("torch", "FloatStorage").str(key).str("cpu");
    int1(storage_numel).op('t').op('Q');
    int1(offset).int_tuple(size).int_tuple(stride).op('\x89').ordered_dict();
    return op('t').op('R');
  }
  std::string bytes() const { return b_ + "."; }

 private:
  Pickle& raw(uint8_t v) {
    b_ += static_cast<char>(v);
    return *this;
  }
  void le32(uint32_t v) {
    for (int k = 0; k < 4; ++k) b_ += static_cast<char>((v >> (8 * k)) & 0xff);
  }
  std::string b_;
  bool od_memoised_ = false;
};

void write_pth(const fs::path& path, const std::string& pickle,
               const std::map<std::string, std::vector<float>>& storages = {}) {
  caffe2::serialize::PyTorchStreamWriter writer(path.string());
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  for (const auto& [key, values] : storages)
    writer.writeRecord("data/" + key, values.data(), values.size() * sizeof(float));
  writer.writeEndOfFile();
}

}  // namespace

// ---- the authors' fixtures --------------------------------------------------------------------

TEST(PthImport, BareStateDictReproducesTheReferenceLogits) {
  const auto path = fixture("unet2d_state_dict.pth");
  BCP_REQUIRE_SHARED(path);
  BCP_REQUIRE_SHARED(bcp::test::parity_file("unet2d.h5"));
  PthImport imported = import_pth(path.string(), cfg("unet2d", 4));
  EXPECT_EQ(imported.location, "");
  EXPECT_FALSE(imported.model->is_training());
  expect_authors_extras_ignored(imported);
  const double err = max_error_vs_reference(*imported.model);
  ::testing::Test::RecordProperty("max_abs_error", std::to_string(err));
  EXPECT_LT(err, kLogitTolerance);
}

TEST(PthImport, WrappedStateDictReproducesTheReferenceLogits) {
  const auto path = fixture("unet2d_wrapped.pth");
  BCP_REQUIRE_SHARED(path);
  BCP_REQUIRE_SHARED(bcp::test::parity_file("unet2d.h5"));
  PthImport imported = import_pth(path.string(), cfg("unet2d", 4));
  EXPECT_EQ(imported.location, "net");
  expect_authors_extras_ignored(imported);
  EXPECT_LT(max_error_vs_reference(*imported.model), kLogitTolerance);
}

TEST(PthImport, LegacyFormatIsRefusedWithTheResaveRecipe) {
  const auto path = fixture("unet2d_legacy.pth");
  BCP_REQUIRE_SHARED(path);
  const std::string err = error_of([&] { import_pth(path.string(), cfg("unet2d", 4)); });
  EXPECT_EQ(err.rfind(path.string() + ": ", 0), 0u) << err;
  EXPECT_NE(err.find("legacy"), std::string::npos) << err;
  EXPECT_NE(err.find("torch.save(torch.load(f), f2)"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

TEST(PthImport, MaliciousPickleIsRefusedAndRunsNothing) {
  const auto path = fixture("malicious.pth");
  BCP_REQUIRE_SHARED(path);
  for (const auto& marker : marker_paths())
    ASSERT_FALSE(fs::exists(marker))
        << marker << " exists BEFORE this test: something ran the payload of " << path
        << " earlier (an importer executed pickled code). Investigate, then delete the marker.";
  const std::string err = error_of([&] { import_pth(path.string(), cfg("unet2d", 4)); });
  EXPECT_EQ(err.rfind(path.string() + ": ", 0), 0u) << err;
  EXPECT_NE(err.find("refusing pickle global 'posix.system'"), std::string::npos) << err;
  for (const auto& marker : marker_paths())
    EXPECT_FALSE(fs::exists(marker)) << "the payload of " << path << " ran: " << marker;
}

TEST(PthImport, TruncatedCopyGivesAnErrorNamingTheFile) {
  const auto src = fixture("unet2d_state_dict.pth");
  BCP_REQUIRE_SHARED(src);
  TempDir tmp("truncated");
  const fs::path cut = tmp.path / "cut.pth";
  {
    std::ifstream in(src, std::ios::binary);
    std::string head(fs::file_size(src) / 2, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(cut, std::ios::binary) << head;
  }
  const std::string err = error_of([&] { import_pth(cut.string(), cfg("unet2d", 4)); });
  EXPECT_EQ(err.rfind(cut.string() + ": ", 0), 0u) << err;
  EXPECT_NE(err.find("truncated or damaged"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

TEST(PthImport, WrongClassCountNamesTheKeyAndBothShapes) {
  const auto path = fixture("unet2d_state_dict.pth");
  BCP_REQUIRE_SHARED(path);
  const std::string err = error_of([&] { import_pth(path.string(), cfg("unet2d", 3)); });
  EXPECT_EQ(err.rfind(path.string() + ": ", 0), 0u) << err;
  EXPECT_NE(err.find("num_classes 3"), std::string::npos) << err;
  EXPECT_NE(err.find("'decoder.out_conv."), std::string::npos) << err;
  EXPECT_NE(err.find("module has [3"), std::string::npos) << err;
  EXPECT_NE(err.find("given [4"), std::string::npos) << err;
}

TEST(PthImport, WrongArchitectureIsRefused) {
  const auto path = fixture("unet2d_state_dict.pth");
  BCP_REQUIRE_SHARED(path);
  const std::string err = error_of([&] { import_pth(path.string(), cfg("vnet", 4)); });
  EXPECT_EQ(err.rfind(path.string() + ": the weights do not fit vnet", 0), 0u) << err;
  EXPECT_NE(err.find("missing key"), std::string::npos) << err;
}

// ---- hand-made archives -----------------------------------------------------------------------

TEST(PthImport, ReadsMetadataSingleItemDictsAndDataParallelKeys) {
  // OrderedDict({'module.w': <2x3 view>, 'module.b': <3-element view at offset 3>}) with the
  // `_metadata` attribute a real model.state_dict() carries (BUILD), dicts of one item (SETITEM)
  // and two tensors sharing one storage.
  Pickle p;
  p.ordered_dict();
  p.str("module.w").tensor("0", 6, 0, {2, 3}, {3, 1}).op('s');
  p.str("module.b").tensor("0", 6, 3, {3}, {1}).op('s');
  p.op('}').str("_metadata").ordered_dict();
  p.str("").op('}').str("version").int1(1).op('s').op('s');
  p.op('s').op('b');
  TempDir tmp("metadata");
  const fs::path path = tmp.path / "sd.pth";
  write_pth(path, p.bytes(), {{"0", {1, 2, 3, 4, 5, 6}}});

  PthStateDict sd = read_pth_state_dict(path.string());
  EXPECT_TRUE(sd.stripped_module_prefix);
  EXPECT_EQ(sd.location, "");
  ASSERT_EQ(sd.tensors.size(), 2u);
  EXPECT_TRUE(torch::equal(sd.tensors.at("w"),
                           torch::tensor(std::vector<float>{1, 2, 3, 4, 5, 6}).view({2, 3})));
  EXPECT_TRUE(torch::equal(sd.tensors.at("b"), torch::tensor(std::vector<float>{4, 5, 6})));
}

TEST(PthImport, FindsTheStateDictUnderAWrapperKey) {
  Pickle p;
  p.op('}').op('(').str("iter").int1(7).str("model").ordered_dict();
  p.str("w").tensor("0", 2, 0, {2}, {1}).op('s').op('u');
  TempDir tmp("wrapper");
  const fs::path path = tmp.path / "ckpt.pth";
  write_pth(path, p.bytes(), {{"0", {1, 2}}});
  PthStateDict sd = read_pth_state_dict(path.string());
  EXPECT_EQ(sd.location, "model");
  EXPECT_FALSE(sd.stripped_module_prefix);
  EXPECT_TRUE(torch::equal(sd.tensors.at("w"), torch::tensor(std::vector<float>{1, 2})));
}

TEST(PthImport, NoStateDictListsTheTopLevelKeys) {
  Pickle p;
  p.op('}').op('(').str("iter").int1(7).str("optimizer").op('}').op('u');
  TempDir tmp("nostate");
  const fs::path path = tmp.path / "ckpt.pth";
  write_pth(path, p.bytes());
  const std::string err = error_of([&] { read_pth_state_dict(path.string()); });
  EXPECT_EQ(err.rfind(path.string() + ": no state dict found", 0), 0u) << err;
  EXPECT_NE(err.find("'iter', 'optimizer'"), std::string::npos) << err;
  EXPECT_NE(err.find("'state_dict', 'net', 'model', 'model_state_dict' or 'student'"),
            std::string::npos)
      << err;
}

TEST(PthImport, UnknownGlobalIsRefusedByName) {
  Pickle p;
  p.op('}').str("x").global("os", "system").str("true").op('\x85').op('R').op('s');
  TempDir tmp("global");
  const fs::path path = tmp.path / "evil.pth";
  write_pth(path, p.bytes());
  const std::string err = error_of([&] { read_pth_state_dict(path.string()); });
  EXPECT_EQ(err.rfind(path.string() + ": refusing pickle global 'os.system'", 0), 0u) << err;
}

TEST(PthImport, ViewOutsideItsStorageIsRefused) {
  Pickle p;
  p.ordered_dict().str("w").tensor("0", 2, 1, {4}, {1}).op('s');
  TempDir tmp("view");
  const fs::path path = tmp.path / "view.pth";
  write_pth(path, p.bytes(), {{"0", {1, 2}}});
  const std::string err = error_of([&] { read_pth_state_dict(path.string()); });
  EXPECT_EQ(err.rfind(path.string() + ": ", 0), 0u) << err;
  EXPECT_NE(err.find("past its storage"), std::string::npos) << err;
}

TEST(PthImport, StorageOfTheWrongSizeIsRefused) {
  Pickle p;
  p.ordered_dict().str("w").tensor("0", 4, 0, {4}, {1}).op('s');
  TempDir tmp("storage");
  const fs::path path = tmp.path / "short.pth";
  write_pth(path, p.bytes(), {{"0", {1, 2}}});
  const std::string err = error_of([&] { read_pth_state_dict(path.string()); });
  EXPECT_NE(err.find("holds 8 bytes, not 4 elements"), std::string::npos) << err;
}

TEST(PthImport, DeepNestingAndSelfReferenceAreRefused) {
  TempDir tmp("nesting");
  Pickle deep;
  for (int k = 0; k < 200; ++k) deep.op(']');
  for (int k = 0; k < 199; ++k) deep.op('a');
  write_pth(tmp.path / "deep.pth", deep.bytes());
  EXPECT_NE(error_of([&] {
              read_pth_state_dict((tmp.path / "deep.pth").string());
            }).find("nested deeper"),
            std::string::npos);

  Pickle cycle;  // l = []; l.append(l)
  cycle.op(']').put(1).get(1).op('a');
  write_pth(tmp.path / "cycle.pth", cycle.bytes());
  EXPECT_NE(error_of([&] {
              read_pth_state_dict((tmp.path / "cycle.pth").string());
            }).find("holds itself"),
            std::string::npos);
}

TEST(PthImport, MissingEmptyAndForeignFilesNameThePath) {
  TempDir tmp("files");
  const fs::path missing = tmp.path / "nope.pth", empty = tmp.path / "empty.pth",
                 text = tmp.path / "notes.pth";
  std::ofstream(empty).flush();
  std::ofstream(text) << "not a checkpoint\n";
  for (const auto& item : {std::pair{missing, "no such file"}, std::pair{empty, "empty file"},
                           std::pair{text, "not a PyTorch checkpoint"}}) {
    const fs::path& path = item.first;
    const std::string what = item.second;
    const std::string err = error_of([&] { import_pth(path.string(), cfg("unet2d", 4)); });
    EXPECT_EQ(err.rfind(path.string() + ": " + what, 0), 0u) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

// Issue 28 item 11: a deflated member's inflated size is what the zip's directory declares, and
// getRecord allocated it before inflating: a 306 KB file took 805 MB, a 37 MB one asked 8 GiB.
TEST(PthImport, MembersDeclaringMoreThanTheyHoldAreRefusedBeforeAllocating) {
  Pickle p;
  p.ordered_dict().str("w").tensor("0", 2, 0, {2}, {1}).op('s');
  TempDir tmp("zip_sizes");
  const fs::path good = tmp.path / "good.pth";
  write_pth(good, p.bytes(), {{"0", {1, 2}}});
  EXPECT_EQ(read_pth_state_dict(good.string()).tensors.size(), 1u);
  const std::string bytes = bcp::test::read_file_bytes(good);
  // The member's central directory entry (signature PK\1\2) as a deflated one of `size` bytes.
  auto crafted = [&](const std::string& member, uint32_t size) {
    std::string b = bytes;
    const size_t name = b.find("/" + member, b.find("PK\x01\x02"));
    const size_t entry = b.rfind("PK\x01\x02", name);
    if (name == std::string::npos || entry == std::string::npos) {
      ADD_FAILURE() << member << ": no directory entry";
      return fs::path();
    }
    b[entry + 10] = 8;  // method: deflate
    for (int k = 0; k < 4; ++k) b[entry + 24 + k] = static_cast<char>((size >> (8 * k)) & 0xff);
    const fs::path path = tmp.path / (member.substr(member.find('/') + 1) + ".pth");
    std::ofstream(path, std::ios::binary) << b;
    return path;
  };
  for (const auto& [member, size] : {std::pair{std::string("data/0"), uint32_t{0xF0000000}},
                                     std::pair{std::string("data.pkl"), uint32_t{0xF0000000}}}) {
    const fs::path path = crafted(member, size);
    const std::string err = error_of([&] { read_pth_state_dict(path.string()); });
    EXPECT_EQ(
        err.rfind(path.string() + ": zip member '" + member + "' declares 4026531840 bytes", 0), 0u)
        << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

}  // namespace bcp_test_pth_import
