#include "bcp/train/run_log.h"

#include <fstream>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "bcp/io/output_path.h"
#include "bcp/io/tensorboard.h"
#include "bcp/util/progress.h"

namespace bcp::train {

RunLog::RunLog(const std::string& dir, bool echo) : dir_(dir), echo_(echo) {
  std::filesystem::create_directories(dir);
  for (const char* appended : {"log.txt", "metrics.jsonl"})
    io::refuse_link(std::filesystem::path(dir) / appended);
  human_.open(dir + "/log.txt", std::ios::app);
  // A kill can cut the last record short; start on a fresh line so the next record is whole.
  const std::string jsonl = dir + "/metrics.jsonl";
  bool cut = false;
  {
    std::ifstream last(jsonl, std::ios::binary | std::ios::ate);
    if (last && last.tellg() > 0) {
      last.seekg(-1, std::ios::end);
      cut = last.get() != '\n';
    }
  }
  machine_.open(jsonl, std::ios::app);
  if (cut) machine_ << '\n';
  if (!human_ || !machine_) throw std::runtime_error(dir + ": cannot open the run's log files");
  if (echo_) progress_ = std::make_unique<util::ProgressLine>(stdout);
}

void RunLog::status(const std::string& text) {
  if (progress_) progress_->update(text);
}

void RunLog::info(const std::string& line) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::ostringstream s;
  s << "[" << std::put_time(&tm, "%H:%M:%S") << "] " << line;
  human_ << s.str() << "\n";
  human_.flush();
  if (progress_) progress_->clear();  // the plain line goes above the live one
  if (echo_) std::cout << s.str() << std::endl;
}

void RunLog::record(const std::string& kind, nlohmann::json fields) {
  fields["kind"] = kind;
  fields["time"] =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  machine_ << fields.dump() << "\n";
  machine_.flush();
  if ((kind == "step" || kind == "validation") && fields.contains("stage") &&
      fields["stage"].is_string() && fields.contains("iteration"))
    write_scalars(kind == "step" ? "train/" : "val/", fields);
}

RunLog::~RunLog() = default;

void RunLog::write_scalars(const std::string& prefix, const nlohmann::json& fields) {
  const std::string stage = fields["stage"].get<std::string>();
  auto& writer = writers_[stage];
  if (!writer)
    writer = std::make_unique<io::EventWriter>(
        io::make_dir_inside(dir_, std::filesystem::path("tb") / stage).string());
  const int64_t step = fields["iteration"].get<int64_t>();
  for (const auto& [key, value] : fields.items()) {
    if (key == "stage" || key == "iteration" || key == "kind" || key == "time") continue;
    if (value.is_number()) {
      writer->scalar(prefix + key, value.get<double>(), step);
    } else if (value.is_array()) {
      for (size_t i = 0; i < value.size(); ++i)
        if (value[i].is_number())
          writer->scalar(prefix + key + "/class_" + std::to_string(i + 1), value[i].get<double>(),
                         step);
    }
  }
}

}  // namespace bcp::train
