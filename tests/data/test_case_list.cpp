#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "../support.h"
#include "bcp/data/acdc.h"
#include "bcp/data/case_list.h"
#include "bcp/data/la.h"
#include "bcp/nets/model_archive.h"

namespace fs = std::filesystem;
using bcp::data::read_case_list;

namespace {
fs::path temp_file(const std::string& tag) {
  return bcp::test::process_temp_dir() / ("bcp_caselist_" + tag + "_" + std::to_string(::getpid()));
}
void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}
}  // namespace

TEST(CaseList, StripsCrlfTrailingBlanksAndSkipsEmptyLines) {
  const fs::path p = temp_file("crlf");
  write_bytes(p,
              "patient001_frame01\r\n\r\npatient001_frame02  \t\n   \n\tpatient002_frame01\nlast");
  auto names = read_case_list(p.string());
  EXPECT_EQ(names, (std::vector<std::string>{"patient001_frame01", "patient001_frame02",
                                             "\tpatient002_frame01", "last"}));
  fs::remove(p);
}

TEST(CaseList, KeepsFileOrder) {
  const fs::path p = temp_file("order");
  write_bytes(p, "c\na\nb\n");
  EXPECT_EQ(read_case_list(p.string()), (std::vector<std::string>{"c", "a", "b"}));
  fs::remove(p);
}

TEST(CaseList, EmptyOrBlankFileIsAnEmptySplit) {
  for (const std::string content : {"", "\n\r\n  \n\t\n"}) {
    const fs::path p = temp_file("empty");
    write_bytes(p, content);
    try {
      read_case_list(p.string());
      FAIL() << "expected an error";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("empty split"), std::string::npos) << e.what();
    }
    fs::remove(p);
  }
}

TEST(CaseList, MissingFileNamesIt) {
  const fs::path p = temp_file("missing");
  try {
    read_case_list(p.string());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no such"), std::string::npos) << e.what();
  }
}

TEST(CaseList, NamesThatLeaveTheDataRootAreRefusedWithTheirLine) {
  for (const std::string bad : {"../outside", "/etc/passwd", "a/b", "..", "a\\b"}) {
    const fs::path p = temp_file("escape");
    write_bytes(p, "patient001_frame01\n" + bad + "\n");
    const std::string msg = bcp::test::error_of([&] { read_case_list(p.string()); });
    EXPECT_NE(msg.find(p.string() + ":2:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not a plain name"), std::string::npos) << msg;
    // The roots refuse such names too, whoever passes them.
    EXPECT_THROW(bcp::data::AcdcRoot{"root"}.volume_path(bad), std::invalid_argument) << bad;
    EXPECT_THROW(bcp::data::AcdcRoot{"root"}.slice_path(bad), std::invalid_argument) << bad;
    EXPECT_THROW(bcp::data::LaRoot{"root"}.volume_path(bad), std::invalid_argument) << bad;
  }
  EXPECT_TRUE(bcp::data::is_plain_case_name("patient001_frame01_slice_3"));
  EXPECT_TRUE(bcp::data::is_plain_case_name("..hidden"));  // a name, not a parent folder
}

TEST(CaseList, ACaseListedTwiceOrABinaryFileIsRefusedWithTheLine) {
  const fs::path p = temp_file("twice");
  write_bytes(p, "a\nb\na\n");
  const std::string twice = bcp::test::error_of([&] { read_case_list(p.string()); });
  EXPECT_NE(twice.find(p.string() + ":3: case \"a\" is listed again (first on line 1)"),
            std::string::npos)
      << twice;
  write_bytes(p, std::string("\xff\xfe\0a\0/\n", 7));
  const std::string binary = bcp::test::error_of([&] { read_case_list(p.string()); });
  EXPECT_NE(binary.find("\\xff\\xfe\\x00a\\x00/"), std::string::npos) << binary;
  EXPECT_NE(binary.find("not a plain name"), std::string::npos) << binary;
  const fs::path folder = p.parent_path();
  EXPECT_NE(bcp::test::error_of([&] {
              read_case_list(folder.string());
            }).find(folder.string() + ": is a folder, not a case list"),
            std::string::npos);
}

TEST(CaseList, EvaluateWithAnEscapingListWritesNothing) {
  bcp::test::TempDir tmp("caselist_evaluate");
  const fs::path root = tmp.path / "root";
  fs::create_directories(root / "data");
  write_bytes(root / "evil.list", "../../victim\n");
  bcp::nets::ModelConfig c;
  c.arch = bcp::nets::Arch::kUNet2d;
  c.num_classes = 4;
  c.base_filters = 4;
  auto net = bcp::nets::make_model(c);
  bcp::nets::save_model((tmp.path / "m.h5").string(), *net, c, {{"dataset", "acdc"}});
  const auto r = bcp::test::run_cli(
      "evaluate --model " + bcp::test::quoted(tmp.path / "m.h5") + " --data " +
      bcp::test::quoted(root) + " --list evil.list --out " + bcp::test::quoted(tmp.path / "out"));
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.output.find("evil.list:1:"), std::string::npos) << r.output;
  EXPECT_EQ(bcp::test::count_lines(r.output), 1) << r.output;
  EXPECT_FALSE(fs::exists(tmp.path / "out"));
}

TEST(CaseList, WriteThenReadRoundTrips) {
  const fs::path p = temp_file("write");
  const std::vector<std::string> names{"a", "b_c", "patient003_frame02_slice_7"};
  bcp::data::write_case_list(p.string(), names);
  EXPECT_EQ(read_case_list(p.string()), names);
  fs::remove(p);
}

TEST(CaseList, LabeledPatientsBecomeSliceCounts) {
  using bcp::data::count_first_patients;
  using bcp::data::patient_of;
  EXPECT_EQ(patient_of("patient003_frame01_slice_4"), "patient003");
  EXPECT_EQ(patient_of("case7_slice_2"), "case7");
  EXPECT_EQ(patient_of("volume12"), "volume12");
  const std::vector<std::string> names{"p1_frame01_slice_1", "p1_frame02_slice_1", "p2_slice_1",
                                       "p2_slice_2", "p3_frame01"};
  EXPECT_EQ(count_first_patients(names, 1), 2);
  EXPECT_EQ(count_first_patients(names, 2), 4);
  EXPECT_EQ(count_first_patients(names, 3), 5);
  EXPECT_THROW(count_first_patients(names, 4), std::invalid_argument);
  EXPECT_THROW(count_first_patients(names, 0), std::invalid_argument);
  try {
    count_first_patients({"p1_slice_1", "p2_slice_1", "p1_slice_2"}, 3);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("p1"), std::string::npos) << e.what();
  }
}

TEST(CaseList, AcdcLabeledSubsetsAreTheLiteraturesSliceCounts) {
  const auto list = bcp::test::data_dir("ACDC") / "train_slices.list";
  BCP_REQUIRE_SHARED(list);
  const auto names = read_case_list(list.string());
  EXPECT_EQ(bcp::data::count_first_patients(names, 3), 68);
  EXPECT_EQ(bcp::data::count_first_patients(names, 7), 136);
}
