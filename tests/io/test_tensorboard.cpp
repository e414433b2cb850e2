// TensorBoard event files: TFRecord framing with masked CRC-32C, Event messages with scalars,
// read back record by record; the run log writes them per stage.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "../support.h"
#include "bcp/io/tensorboard.h"
#include "bcp/train/run_log.h"

namespace fs = std::filesystem;
using bcp::io::read_events;

namespace {

std::vector<fs::path> event_files(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) out.push_back(e.path());
  return out;
}

}  // namespace

TEST(TensorBoard, Crc32cMatchesTheCastagnoliCheckValue) {
  const std::string check = "123456789";
  EXPECT_EQ(bcp::io::crc32c(check.data(), check.size()), 0xE3069283u);
  EXPECT_EQ(bcp::io::crc32c("", 0), 0u);
  // TFRecord's mask: rotate right by 15, add a constant.
  const uint32_t c = 0xE3069283u;
  EXPECT_EQ(bcp::io::masked_crc32c(check.data(), check.size()),
            ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

TEST(TensorBoard, WritesRecordsThatReadBack) {
  bcp::test::TempDir tmp("tensorboard");
  std::string path;
  {
    bcp::io::EventWriter w((tmp.path / "run").string());
    path = w.path();
    w.scalar("train/loss", 0.75, 1);
    w.scalar("val/dice/class_3", 0.5, 200);
    w.scalar("train/lr", 1e-3, 123456789012LL);
  }
  EXPECT_NE(fs::path(path).filename().string().find("tfevents"), std::string::npos);
  const auto events = read_events(path);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_EQ(events[1].tag, "train/loss");
  EXPECT_FLOAT_EQ(events[1].value, 0.75f);
  EXPECT_EQ(events[1].step, 1);
  EXPECT_EQ(events[2].tag, "val/dice/class_3");
  EXPECT_EQ(events[2].step, 200);
  EXPECT_EQ(events[3].step, 123456789012LL);  // a multi-byte varint
  EXPECT_FLOAT_EQ(events[3].value, 1e-3f);
  EXPECT_GT(events[1].wall_time, 1.7e9);  // seconds since 1970, now

  // The first record's framing, by hand: 8-byte length, its masked CRC, data, data's masked CRC.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  uint32_t length_crc = 0, data_crc = 0;
  std::memcpy(&length_crc, bytes.data() + 8, 4);
  std::memcpy(&data_crc, bytes.data() + 12 + length, 4);
  EXPECT_EQ(length_crc, bcp::io::masked_crc32c(bytes.data(), 8));
  EXPECT_EQ(data_crc, bcp::io::masked_crc32c(bytes.data() + 12, length));
  EXPECT_NE(bytes.find("brain.Event:2"), std::string::npos);
}

TEST(TensorBoard, DamagedFilesAreNamed) {
  bcp::test::TempDir tmp("tensorboard_bad");
  std::string path;
  {
    bcp::io::EventWriter w(tmp.path.string());
    path = w.path();
    w.scalar("train/loss", 1.0, 1);
  }
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  auto write = [&](const std::string& b) { std::ofstream(path, std::ios::binary) << b; };
  std::string flipped = bytes;
  flipped[flipped.size() - 8] ^= 0x40;  // inside the last record's data
  write(flipped);
  std::string msg = bcp::test::error_of([&] { read_events(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("CRC"), std::string::npos) << msg;
  write(bytes.substr(0, bytes.size() - 3));
  msg = bcp::test::error_of([&] { read_events(path); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(TensorBoard, RunLogWritesEachStageToItsOwnFolder) {
  bcp::test::TempDir tmp("tensorboard_runlog");
  {
    bcp::train::RunLog log(tmp.path.string(), /*echo=*/false);
    log.record("step", {{"stage", "pretrain"}, {"iteration", 1}, {"loss", 0.9}, {"lr", 0.01}});
    log.record(
        "validation",
        {{"stage", "pretrain"}, {"iteration", 200}, {"mean_dice", 0.6}, {"dice", {0.5, 0.6, 0.7}}});
    log.record("step", {{"stage", "selftrain"}, {"iteration", 1}, {"loss", 0.4}});
    log.record("event", {{"what", "resumed"}});  // not a scalar record
  }
  const auto pre = event_files(tmp.path / "tb" / "pretrain");
  const auto self = event_files(tmp.path / "tb" / "selftrain");
  ASSERT_EQ(pre.size(), 1u);
  ASSERT_EQ(self.size(), 1u);
  const auto events = read_events(pre[0].string());
  std::map<std::string, float> by_tag;
  for (const auto& e : events)
    if (!e.tag.empty()) by_tag[e.tag] = e.value;
  EXPECT_EQ(by_tag.size(), 6u);
  EXPECT_FLOAT_EQ(by_tag["train/loss"], 0.9f);
  EXPECT_FLOAT_EQ(by_tag["val/mean_dice"], 0.6f);
  EXPECT_FLOAT_EQ(by_tag["val/dice/class_3"], 0.7f);
  EXPECT_EQ(read_events(self[0].string()).size(), 2u);  // file version + loss
}

// The same file through Google's protobuf runtime and the crc32c package (no bcp code):
// scripts/check_tfevents.py prints "step tag value" per scalar.
TEST(TensorBoard, GoogleProtobufReadsTheFileAsWritten) {
  const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  if (std::system((python + " -c 'import google.protobuf, crc32c' >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << "SKIPPED: needs python3 with protobuf and crc32c (Debian: python3-protobuf "
                    "python3-crc32c)";
  bcp::test::TempDir tmp("tensorboard_protobuf");
  std::string path;
  {
    bcp::io::EventWriter w(tmp.path.string());
    path = w.path();
    w.scalar("train/loss", 0.25, 3);
    w.scalar("val/dice/class_2", 0.5, 4000000000LL);
  }
  const std::string cmd = python + " '" + bcp::test::source_dir().string() +
                          "/scripts/check_tfevents.py' '" + path + "' 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(pipe), 0) << out;
  EXPECT_EQ(out, "3 train/loss 0.25\n4000000000 val/dice/class_2 0.5\n");
}
