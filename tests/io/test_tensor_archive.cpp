#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "../support.h"
#include "bcp/io/h5.h"
#include "bcp/io/tensor_archive.h"

namespace fs = std::filesystem;
using bcp::io::load_tensor_archive;
using bcp::io::save_tensor_archive;

namespace {

fs::path temp(const std::string& name) {
  return bcp::test::process_temp_dir() / name;
}

/// Names in the folder of `p` that start with p's name: the file and any temporary beside it.
std::vector<std::string> folder_entries(const fs::path& p) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(p.parent_path()))
    if (e.path().filename().string().rfind(p.filename().string(), 0) == 0)
      names.push_back(e.path().filename().string());
  return names;
}

using bcp::test::error_of;

}  // namespace

TEST(TensorArchive, RoundTripsEveryDtypeNameAndMeta) {
  fs::path p = temp("bcp_test_archive_roundtrip.h5");
  std::map<std::string, torch::Tensor> t;
  t["student/encoder.in_conv.conv_conv.0.weight"] = torch::randn({16, 1, 3, 3});
  t["teacher/decoder.out_conv.bias"] = torch::randn({4}, torch::kFloat64);
  t["optim/0"] = torch::randn({3, 5}).to(torch::kBFloat16);
  t["half"] = torch::randn({7}).to(torch::kFloat16);
  t["rng/cpu"] = torch::randint(0, 256, {5056}).to(torch::kUInt8);
  t["iteration"] = torch::tensor(int64_t{1234567890123});
  t["flags"] = torch::tensor({true, false, true});
  t["i8"] = torch::tensor({-3, 4}, torch::kInt8);
  t["i16"] = torch::tensor({-300, 400}, torch::kInt16);
  t["i32"] = torch::tensor({-70000, 1}, torch::kInt32);
  t["empty"] = torch::zeros({0, 3});
  t["a/b/c/deep.name"] = torch::arange(6).reshape({2, 3}).t();  // non-contiguous
  nlohmann::json meta = {{"iteration", 1234}, {"config", {{"lr", 0.01}}}, {"note", "ü"}};
  save_tensor_archive(p.string(), t, meta);
  EXPECT_EQ(folder_entries(p), std::vector<std::string>{p.filename().string()});  // no temporary
  EXPECT_TRUE(bcp::io::is_tensor_archive(p.string()));

  auto back = load_tensor_archive(p.string());
  EXPECT_EQ(back.meta, meta);
  ASSERT_EQ(back.tensors.size(), t.size());
  for (const auto& [name, v] : t) {
    ASSERT_TRUE(back.tensors.count(name)) << name;
    const auto& w = back.tensors.at(name);
    EXPECT_EQ(w.scalar_type(), v.scalar_type()) << name;
    EXPECT_EQ(w.sizes(), v.sizes()) << name;
    EXPECT_TRUE(torch::equal(w, v)) << name;
  }
  fs::remove(p);
}

TEST(TensorArchive, OverwritesAtomicallyAndAcceptsNullMeta) {
  fs::path p = temp("bcp_test_archive_overwrite.h5");
  save_tensor_archive(p.string(), {{"x", torch::ones({2})}}, {{"v", 1}});
  save_tensor_archive(p.string(), {{"y", torch::zeros({3})}});
  auto back = load_tensor_archive(p.string());
  EXPECT_TRUE(back.meta.is_null());
  EXPECT_EQ(back.tensors.size(), 1u);
  EXPECT_TRUE(back.tensors.count("y"));
  fs::remove(p);
}

TEST(TensorArchive, BadNamesAreRefusedBeforeWriting) {
  fs::path p = temp("bcp_test_archive_badname.h5");
  for (const std::string bad : {"", "/lead", "trail/", "a//b", "a/./b", "a/../b"}) {
    std::string msg = error_of([&] { save_tensor_archive(p.string(), {{bad, torch::ones({1})}}); });
    EXPECT_NE(msg.find("tensor name '" + bad + "'"), std::string::npos) << msg;
  }
  std::string msg = error_of([&] {
    save_tensor_archive(p.string(), {{"a", torch::ones({1})}, {"a/b", torch::ones({1})}});
  });
  EXPECT_NE(msg.find("'a'"), std::string::npos) << msg;
  msg = error_of([&] {
    save_tensor_archive(p.string(), {{"c", torch::ones({1}, torch::kComplexFloat)}});
  });
  EXPECT_NE(msg.find("'c'"), std::string::npos) << msg;
  EXPECT_TRUE(folder_entries(p).empty());  // neither the archive nor a temporary
}

TEST(TensorArchive, TruncatedWrongAndMissingFilesGiveClearErrors) {
  fs::path good = temp("bcp_test_archive_good.h5");
  save_tensor_archive(good.string(), {{"w", torch::randn({64, 64})}}, {{"k", 1}});
  const auto size = fs::file_size(good);

  fs::path truncated = temp("bcp_test_archive_truncated.h5");
  fs::copy_file(good, truncated, fs::copy_options::overwrite_existing);
  fs::resize_file(truncated, size / 2);
  std::string msg = error_of([&] { load_tensor_archive(truncated.string()); });
  EXPECT_NE(msg.find(truncated.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_FALSE(bcp::io::is_tensor_archive(truncated.string()));

  fs::path text = temp("bcp_test_archive_text.h5");
  std::ofstream(text) << "{\"not\": \"hdf5\"}";
  msg = error_of([&] { load_tensor_archive(text.string()); });
  EXPECT_NE(msg.find(text.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("not an HDF5 file"), std::string::npos) << msg;

  // A valid HDF5 file that is not ours (as a parity fixture would be).
  fs::path other = temp("bcp_test_archive_other.h5");
  {
    bcp::io::H5File(other.string(), bcp::io::H5File::Mode::kTruncate).write("x", torch::ones({2}));
  }
  msg = error_of([&] { load_tensor_archive(other.string()); });
  EXPECT_NE(msg.find(other.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a bcp tensor archive"), std::string::npos) << msg;

  fs::path missing = temp("bcp_test_archive_missing.h5");
  msg = error_of([&] { load_tensor_archive(missing.string()); });
  EXPECT_NE(msg.find(missing.string()), std::string::npos) << msg;

  for (const auto& f : {good, truncated, text, other}) fs::remove(f);
}
