#include "bcp/data/nnunet.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "bcp/data/label_values.h"
#include "bcp/io/input_path.h"
#include "bcp/io/json_file.h"
#include "bcp/util/text.h"

namespace bcp::data {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Case name -> channel index -> path, from files named CASE_XXXX<ending>.
std::map<std::string, std::map<int, std::string>> channel_files(const fs::path& dir,
                                                                const std::string& ending) {
  if (!fs::is_directory(dir)) throw std::runtime_error(dir.string() + ": folder not found");
  std::map<std::string, std::map<int, std::string>> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || !(file.size() > ending.size() && util::ends_with(file, ending)))
      continue;
    std::string case_name;
    const int channel = channel_of_stem(file.substr(0, file.size() - ending.size()), &case_name);
    if (channel < 0)
      throw std::runtime_error(entry.path().string() +
                               ": image names must end in _XXXX (channel) before " + ending);
    out[case_name][channel] = io::inside_root(dir.string(), entry.path().string());
  }
  return out;
}

}  // namespace

NnunetLabels nnunet_labels(const json& meta, const std::string& meta_path) {
  auto bad = [&](const std::string& why) { return std::runtime_error(meta_path + ": " + why); };
  NnunetLabels labels;
  std::vector<std::string>& class_names = labels.class_names;
  if (!meta.contains("labels") || !meta["labels"].is_object() || meta["labels"].size() < 2)
    throw bad("labels must map at least two names to values, e.g. {\"background\": 0, \"LV\": 1}");
  std::map<int64_t, std::string> by_value;
  for (auto it = meta["labels"].begin(); it != meta["labels"].end(); ++it) {
    if (!it.value().is_number_integer())
      throw bad("label \"" + it.key() + "\" must be one integer (region lists are not supported)");
    const int64_t v = it.value();
    // nnU-Net v2's "ignore" marks unannotated voxels, which get no loss and no score; trained
    // as a class it would teach the network to predict "not annotated".
    if (it.key() == "ignore") {
      labels.ignore_value = v;
      continue;
    }
    // Class 0 is what bcp treats as background (not scored, not pasted as foreground).
    if (it.key() == "background" && v != 0)
      throw bad("label \"background\" must have value 0, got " + std::to_string(v));
    if (!by_value.emplace(v, it.key()).second)
      throw bad("label value " + std::to_string(v) + " is given twice");
  }
  if (labels.ignore_value >= 0 && labels.ignore_value != static_cast<int64_t>(by_value.size()))
    throw bad("the \"ignore\" label must have the highest value, " +
              std::to_string(by_value.size()) + " (after the classes 0.." +
              std::to_string(by_value.size() - 1) + ", as nnU-Net requires), got " +
              std::to_string(labels.ignore_value));
  int64_t expect = 0;
  for (const auto& [v, name] : by_value) {
    if (v != expect)
      throw bad("label values must be 0..K-1 with 0 = background; value " + std::to_string(expect) +
                " is missing");
    class_names.push_back(name);
    ++expect;
  }
  if (labels.ignore_value >= 0 && class_names.size() < 2)
    throw bad("labels must name at least two classes besides \"ignore\"");
  // Masks are stored as uint8: label 260 would silently become 4. Unannotated voxels are stored
  // as kIgnoreLabel (255), which leaves 255 classes.
  const size_t most = labels.ignore_value >= 0 ? static_cast<size_t>(kIgnoreLabel) : 256;
  if (class_names.size() > most)
    throw bad(
        std::to_string(class_names.size()) +
        " labels, but bcp stores masks as uint8 and takes at most " + std::to_string(most) +
        (labels.ignore_value >= 0 ? " besides \"ignore\" (255 marks it)" : " (values 0..255)"));
  return labels;
}

NnunetDataset read_nnunet_dataset(const std::string& dir) {
  const fs::path root(dir);
  const fs::path meta_path = root / "dataset.json";
  if (!fs::is_regular_file(meta_path))
    throw std::runtime_error(meta_path.string() +
                             ": not found (an nnU-Net raw dataset "
                             "folder holds dataset.json)");
  const json meta = io::read_json_file(meta_path.string());
  auto bad = [&](const std::string& why) {
    return std::runtime_error(meta_path.string() + ": " + why);
  };
  NnunetDataset ds;
  ds.dir = dir;
  if (!meta.is_object()) throw bad("expected a JSON object");
  if (meta.contains("name") && meta["name"].is_string()) ds.name = meta["name"];
  if (meta.contains("file_ending") && !meta["file_ending"].is_string())
    throw bad("file_ending must be a string such as \".nii.gz\", got a " +
              std::string(meta["file_ending"].type_name()));
  ds.file_ending = meta.value("file_ending", std::string(".nii.gz"));
  if (ds.file_ending.empty() || ds.file_ending[0] != '.')
    throw bad("file_ending must start with .");

  const json* channels = nullptr;
  for (const char* key : {"channel_names", "modality"})  // v2, then v1's name
    if (meta.contains(key)) channels = &meta[key];
  if (!channels || !channels->is_object() || channels->empty())
    throw bad("channel_names must be an object such as {\"0\": \"MRI\"}");
  ds.channel_names.resize(channels->size());
  for (auto it = channels->begin(); it != channels->end(); ++it) {
    size_t idx = 0;
    try {
      idx = std::stoul(it.key());
    } catch (const std::exception&) {
      throw bad("channel_names key \"" + it.key() + "\" is not a channel number");
    }
    if (idx >= ds.channel_names.size() || !it.value().is_string())
      throw bad("channel_names must number channels 0..N-1 with string names");
    ds.channel_names[idx] = it.value().get<std::string>();
  }

  NnunetLabels label_meta = nnunet_labels(meta, meta_path.string());
  ds.class_names = std::move(label_meta.class_names);
  ds.ignore_value = label_meta.ignore_value;

  const fs::path images_dir = root / "imagesTr", labels_dir = root / "labelsTr";
  const auto images = channel_files(images_dir, ds.file_ending);
  if (!fs::is_directory(labels_dir))
    throw std::runtime_error(labels_dir.string() + ": folder not found");
  std::set<std::string> labels;
  for (const auto& entry : fs::directory_iterator(labels_dir)) {
    const std::string file = entry.path().filename().string();
    if (entry.is_regular_file() && file.size() > ds.file_ending.size() &&
        util::ends_with(file, ds.file_ending))
      labels.insert(file.substr(0, file.size() - ds.file_ending.size()));
  }
  for (const auto& name : labels)
    if (!images.count(name))
      throw std::runtime_error((labels_dir / (name + ds.file_ending)).string() +
                               ": label without an image in imagesTr");
  for (const auto& [name, files] : images) {
    if (!labels.count(name))
      throw std::runtime_error((labels_dir / (name + ds.file_ending)).string() +
                               ": missing; imagesTr has case " + name + " but no label for it");
    ds.training.push_back(
        {name, channel_list(name, files, ds.channel_names.size(), images_dir, ds.file_ending),
         io::inside_root(labels_dir.string(), (labels_dir / (name + ds.file_ending)).string())});
  }
  if (ds.training.empty()) throw std::runtime_error(images_dir.string() + ": no training images");
  return ds;
}

int channel_of_stem(const std::string& stem, std::string* case_name) {
  if (stem.size() <= 5 || stem[stem.size() - 5] != '_') return -1;
  const std::string digits = stem.substr(stem.size() - 4);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  *case_name = stem.substr(0, stem.size() - 5);
  return std::stoi(digits);
}

std::string channel_file_name(const std::string& case_name, size_t channel,
                              const std::string& ending) {
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, "_%04zu", channel);
  return case_name + suffix + ending;
}

std::vector<std::string> channel_list(const std::string& case_name,
                                      const std::map<int, std::string>& files, size_t channels,
                                      const std::string& dir, const std::string& ending) {
  std::vector<std::string> images;
  for (size_t c = 0; c < channels; ++c) {
    auto it = files.find(static_cast<int>(c));
    if (it == files.end())
      throw std::runtime_error((fs::path(dir) / channel_file_name(case_name, c, ending)).string() +
                               ": channel " + std::to_string(c) + " of case " + case_name +
                               " is missing");
    images.push_back(it->second);
  }
  if (files.size() > channels)
    throw std::runtime_error((fs::path(dir) / case_name).string() + "_*: case " + case_name +
                             " has " + std::to_string(files.size()) + " channel files, expected " +
                             std::to_string(channels));
  return images;
}

std::vector<NnunetCase> find_nnunet_images(const std::string& dir, const std::string& file_ending,
                                           size_t channels) {
  std::vector<NnunetCase> out;
  for (const auto& [name, files] : channel_files(dir, file_ending))
    out.push_back({name, channel_list(name, files, channels, dir, file_ending), ""});
  if (out.empty()) throw std::runtime_error(dir + ": no images named CASE_0000" + file_ending);
  return out;
}

}  // namespace bcp::data
