#include "bcp/data/prepare.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <stdexcept>

#include "bcp/data/acdc.h"
#include "bcp/data/case_list.h"
#include "bcp/data/la.h"
#include "bcp/data/nnunet.h"
#include "bcp/io/atomic_file.h"
#include "bcp/io/h5.h"
#include "bcp/io/nifti.h"
#include "bcp/io/output_rules.h"
#include "bcp/io/volume_geometry.h"
#include "bcp/util/error_message.h"
#include "bcp/util/text.h"

namespace bcp::data {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

enum class Role { kLabeled, kUnlabeled, kVal };

/// `v` (read from `path`) must lie on `ref`'s grid: same shape, spacing, origin and direction.
void check_same_grid(const io::Volume& v, const std::string& path, const io::Volume& ref,
                     const std::string& ref_name) {
  if (v.data.sizes() != ref.data.sizes())
    throw std::runtime_error(path + ": shape " + c10::str(v.data.sizes()) + " differs from " +
                             ref_name + "'s " + c10::str(ref.data.sizes()));
  if (!io::same_geometry(v, ref))
    throw std::runtime_error(path + ": geometry differs from " + ref_name + "'s (" +
                             io::geometry_text(v) + " vs " + io::geometry_text(ref) + ")");
}

/// The label map of a case as uint8, checked against the image's grid and the class count; the
/// "ignore" value (when >= 0) is stored as kIgnoreLabel.
torch::Tensor checked_label(const io::Volume& image, const std::string& path, int64_t num_classes,
                            int64_t ignore_value) {
  io::Volume label = io::read_volume(path);
  check_same_grid(label, path, image, "its image");
  auto values = label.data.to(torch::kDouble);
  if (!torch::equal(values, values.round()))
    throw std::runtime_error(path + ": label values must be integers");
  torch::Tensor unknown = ignore_value >= 0 ? values == static_cast<double>(ignore_value)
                                            : torch::zeros(values.sizes(), torch::kBool);
  const torch::Tensor classes = values.masked_fill(unknown, 0);
  const double lo = classes.min().item<double>(), hi = classes.max().item<double>();
  if (lo < 0 || hi > static_cast<double>(num_classes - 1))
    throw std::runtime_error(
        path + ": label values span [" + std::to_string(int64_t(lo)) + ", " +
        std::to_string(int64_t(hi)) + "], outside dataset.json's labels 0.." +
        std::to_string(num_classes - 1) +
        (ignore_value >= 0 ? " and " + std::to_string(ignore_value) + " (ignore)" : std::string()));
  return classes.masked_fill(unknown, static_cast<double>(kIgnoreLabel))
      .to(torch::kUInt8)
      .contiguous();
}

/// Channel k > 0 of a case: on channel 0's grid.
torch::Tensor checked_channel(const io::Volume& first, const std::string& path) {
  io::Volume v = io::read_volume(path);
  check_same_grid(v, path, first, "channel 0");
  return v.data;
}

template <typename T>
std::vector<T> median_of(std::vector<std::vector<T>> shapes) {
  std::vector<T> out;
  for (size_t d = 0; d < shapes.front().size(); ++d) {
    std::vector<T> axis;
    for (const auto& s : shapes) axis.push_back(s[d]);
    std::nth_element(axis.begin(), axis.begin() + axis.size() / 2, axis.end());
    out.push_back(axis[axis.size() / 2]);
  }
  return out;
}

/// In a root while prepare writes it, listing (one a line, relative to the root) every file
/// prepare is about to write. A rerun into such a root removes those files and nothing else.
constexpr const char* kIncompleteMarker = "PREPARE_INCOMPLETE";
constexpr const char* kMarkerHeader =
    "bcp prepare is writing this data root; a rerun removes the files listed below and nothing "
    "else\n";

/// Removes what an unfinished prepare recorded in its marker (and the temporary copies beside
/// those files), then the folders it made that are empty now; the marker itself is rewritten by
/// the new run. Throws when the root still holds a file: what prepare did not record is the
/// user's.
void remove_unfinished_prepare(const fs::path& root) {
  std::ifstream in(root / kIncompleteMarker);
  std::string line;
  std::getline(in, line);  // the header
  std::set<fs::path> folders;
  while (std::getline(in, line)) {
    const fs::path rel(line);
    bool plain = !line.empty() && rel.is_relative();
    for (const auto& part : rel) plain = plain && part != "..";
    if (!plain) continue;  // a hand-edited marker never removes anything outside the root
    const fs::path file = root / rel;
    std::error_code ec;
    fs::remove(file, ec);
    const std::string temp_prefix = file.filename().string() + ".tmp.";
    if (fs::is_directory(file.parent_path(), ec))
      for (const auto& e : fs::directory_iterator(file.parent_path(), ec))
        if (e.path().filename().string().rfind(temp_prefix, 0) == 0) fs::remove(e.path(), ec);
    for (fs::path p = rel.parent_path(); !p.empty(); p = p.parent_path()) folders.insert(root / p);
  }
  // Deepest first; fs::remove leaves a folder that still holds something.
  for (auto it = folders.rbegin(); it != folders.rend(); ++it) {
    std::error_code ec;
    if (fs::is_directory(*it, ec) && fs::is_empty(*it, ec)) fs::remove(*it, ec);
  }
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_directory() || e.path().filename() == kIncompleteMarker) continue;
    // The marker stays (now listing nothing), so a rerun after the user moved the file works.
    io::write_file_atomically((root / kIncompleteMarker).string(), kMarkerHeader);
    throw std::runtime_error(e.path().string() +
                             ": in the data root of an unfinished bcp prepare, " +
                             "but not among the files it recorded in " + kIncompleteMarker +
                             "; prepare removed only its own files and leaves this one to you " +
                             "(move it, or name another --out)");
  }
}

/// The output root may be new, empty, or an unfinished prepare's; it never overlaps an input.
void check_out_dir(const PrepareOptions& o) {
  const std::string& out = o.out_dir;
  if (out.empty()) throw std::invalid_argument("prepare: no output folder given (--out)");
  io::refuse_folder_overlapping_inputs(out, "--out", {o.nnunet_dir, o.unlabeled_dir});
  if (fs::is_directory(out) && fs::exists(fs::path(out) / kIncompleteMarker)) return;
  if (fs::exists(out) && !(fs::is_directory(out) && fs::is_empty(out)))
    throw std::runtime_error(out +
                             ": output folder exists and is not empty (prepare writes a new "
                             "data root)");
}

/// Appends a file's name (relative to the root) to the marker before the file is written, so
/// that whatever a stopped prepare leaves behind is on record.
class WrittenFiles {
 public:
  explicit WrittenFiles(const fs::path& root) : root_(root) {
    io::write_file_atomically((root / kIncompleteMarker).string(), kMarkerHeader);
    out_.open(root / kIncompleteMarker, std::ios::app);
    if (!out_) throw std::runtime_error((root / kIncompleteMarker).string() + ": cannot append");
  }
  /// `path` (inside the root) as given, after recording it.
  const std::string& operator()(const std::string& path) {
    out_ << fs::path(path).lexically_relative(root_).string() << '\n' << std::flush;
    if (!out_) throw std::runtime_error((root_ / kIncompleteMarker).string() + ": write failed");
    return path;
  }

 private:
  fs::path root_;
  std::ofstream out_;
};

}  // namespace

json fingerprint_to_json(const PreparedDataset& p) {
  json channels = json::array();
  for (const auto& c : p.intensity_stats)
    channels.push_back({{"mean", c.mean},
                        {"sd", c.sd},
                        {"min", c.min},
                        {"max", c.max},
                        {"p0.5", c.p005},
                        {"p99.5", c.p995}});
  return {{"name", p.name},
          {"dim", p.dim},
          {"channels", p.channels},
          {"classes", p.class_names},
          {"intensity",
           {{"kind", p.intensity.kind}, {"ct_window", {p.intensity.ct_low, p.intensity.ct_high}}}},
          {"labeled_cases", p.labeled_cases},
          {"unlabeled_cases", p.unlabeled_cases},
          {"val_cases", p.val_cases},
          {"train_list", p.train_list},
          {"labeled_items", p.labeled_items},
          {"unlabeled_items", p.unlabeled_items},
          {"min_shape", p.min_shape},
          {"median_shape", p.median_shape},
          {"max_shape", p.max_shape},
          {"median_spacing", p.median_spacing},
          {"median_slice_spacing", p.median_slice_spacing},
          {"class_fraction", p.class_fraction},
          {"ignore_label", p.ignore_label},
          {"intensity_stats", channels}};
}

PreparedDataset fingerprint_from_json(const json& j) {
  PreparedDataset p;
  try {
    p.name = j.at("name").get<std::string>();
    p.dim = j.at("dim").get<int>();
    p.channels = j.at("channels").get<int64_t>();
    p.class_names = j.at("classes").get<std::vector<std::string>>();
    p.intensity.kind = j.at("intensity").at("kind").get<IntensityKind>();
    const auto window = j.at("intensity").at("ct_window").get<std::vector<double>>();
    if (window.size() == 2) {
      p.intensity.ct_low = window[0];
      p.intensity.ct_high = window[1];
    }
    p.labeled_cases = j.at("labeled_cases").get<std::vector<std::string>>();
    p.unlabeled_cases = j.at("unlabeled_cases").get<std::vector<std::string>>();
    p.val_cases = j.at("val_cases").get<std::vector<std::string>>();
    p.train_list = j.at("train_list").get<std::string>();
    p.labeled_items = j.at("labeled_items").get<int64_t>();
    p.unlabeled_items = j.at("unlabeled_items").get<int64_t>();
    p.min_shape = j.at("min_shape").get<std::vector<int64_t>>();
    p.median_shape = j.at("median_shape").get<std::vector<int64_t>>();
    p.max_shape = j.at("max_shape").get<std::vector<int64_t>>();
    p.median_spacing = j.at("median_spacing").get<std::vector<double>>();
    p.median_slice_spacing = j.at("median_slice_spacing").get<double>();
    p.class_fraction = j.at("class_fraction").get<std::vector<double>>();
    p.ignore_label = j.value("ignore_label", false);  // roots prepared before it was recorded
    for (const auto& c : j.at("intensity_stats"))
      p.intensity_stats.push_back({c.at("mean").get<double>(), c.at("sd").get<double>(),
                                   c.at("min").get<double>(), c.at("max").get<double>(),
                                   c.at("p0.5").get<double>(), c.at("p99.5").get<double>()});
  } catch (const std::exception& e) {
    throw std::runtime_error("fingerprint: " + util::error_message(e));
  }
  check_fingerprint(p);
  return p;
}

void check_fingerprint(const PreparedDataset& p) {
  const auto bad = [](const std::string& why) { throw std::runtime_error("fingerprint: " + why); };
  if (p.dim != 2 && p.dim != 3) bad("dim must be 2 or 3, got " + std::to_string(p.dim));
  const size_t axes = static_cast<size_t>(p.dim);
  for (const auto* shape : {&p.median_shape, &p.min_shape, &p.max_shape}) {
    if (shape->empty() && shape != &p.median_shape) continue;
    if (shape->size() != axes) bad("shapes need " + std::to_string(axes) + " sides");
    for (int64_t side : *shape)
      if (side < 1 || side > 100000) bad("a side of " + std::to_string(side) + " voxels");
  }
  if (!p.median_spacing.empty() && p.median_spacing.size() != axes)
    bad("median_spacing needs " + std::to_string(axes) + " values");
  for (double s : p.median_spacing)
    if (!(std::isfinite(s) && s > 0)) bad("spacings must be finite and > 0");
  if (p.channels < 1) bad("channels must be >= 1");
  if (p.class_names.size() < 2) bad("at least 2 classes (background included) are needed");
  if (!p.class_fraction.empty() && p.class_fraction.size() != p.class_names.size())
    bad("class_fraction needs one value per class");
  if (!p.intensity_stats.empty() && static_cast<int64_t>(p.intensity_stats.size()) != p.channels)
    bad("intensity_stats needs one entry per channel");
}

PreparedDataset prepare_nnunet(const PrepareOptions& o, const PrepareProgress& progress) {
  if (o.dim != 2 && o.dim != 3)
    throw std::invalid_argument("prepare: dim must be 2d or 3d, got " + std::to_string(o.dim));
  if (!(o.val_fraction > 0 && o.val_fraction < 1))
    throw std::invalid_argument("prepare: validation fraction must be in (0, 1)");
  check_out_dir(o);
  // Every input is read and checked before anything in the output root is removed or written.
  const NnunetDataset ds = read_nnunet_dataset(o.nnunet_dir);
  std::vector<NnunetCase> unlabeled;
  if (!o.unlabeled_dir.empty())
    unlabeled = find_nnunet_images(o.unlabeled_dir, ds.file_ending, ds.channel_names.size());
  for (const auto& c : ds.training) data::check_listable_name(c.name, c.images[0]);
  for (const auto& c : unlabeled) data::check_listable_name(c.name, c.images[0]);

  PreparedDataset out;
  out.dim = o.dim;
  out.channels = static_cast<int64_t>(ds.channel_names.size());
  out.class_names = ds.class_names;
  out.ignore_label = ds.ignore_value >= 0;
  out.intensity.kind = o.intensity;
  out.intensity.ct_low = o.ct_low;
  out.intensity.ct_high = o.ct_high;
  if (o.intensity == IntensityKind::kAuto)
    out.intensity.kind = util::lower(ds.channel_names[0]) == "ct" ? IntensityKind::kCt
                         : o.dim == 2                             ? IntensityKind::kMinmax
                                                                  : IntensityKind::kZscore;
  validate(out.intensity);

  // The split: explicit cases, else a seeded shuffle of the labeled cases.
  std::vector<std::string> names;
  for (const auto& c : ds.training) names.push_back(c.name);
  std::set<std::string> val;
  if (!o.val_cases.empty()) {
    for (const auto& v : o.val_cases) {
      if (std::find(names.begin(), names.end(), v) == names.end())
        throw std::invalid_argument("prepare: validation case \"" + v +
                                    "\" is not a labeled case of " + o.nnunet_dir);
      val.insert(v);
    }
  } else {
    std::vector<std::string> shuffled = names;
    std::mt19937_64 rng(o.seed);
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    const auto n_val = std::max<size_t>(
        1, static_cast<size_t>(std::lround(o.val_fraction * static_cast<double>(names.size()))));
    val.insert(shuffled.begin(), shuffled.begin() + std::min(n_val, shuffled.size()));
  }
  for (const auto& n : names) (val.count(n) ? out.val_cases : out.labeled_cases).push_back(n);
  const size_t min_labeled = o.dim == 2 ? 1 : 2;
  if (out.labeled_cases.size() < min_labeled || out.val_cases.empty())
    throw std::runtime_error(o.nnunet_dir + ": of " + std::to_string(names.size()) +
                             " labeled cases, " + std::to_string(out.val_cases.size()) +
                             " go to validation and " + std::to_string(out.labeled_cases.size()) +
                             " to training; at least " + std::to_string(min_labeled) +
                             " for training and 1 for validation are needed");
  for (const auto& c : unlabeled) {
    if (std::find(names.begin(), names.end(), c.name) != names.end())
      throw std::runtime_error(c.images[0] + ": unlabeled case " + c.name +
                               " has the name of a labeled case");
    out.unlabeled_cases.push_back(c.name);
  }

  const fs::path root(o.out_dir);
  if (fs::exists(root / kIncompleteMarker)) remove_unfinished_prepare(root);
  fs::create_directories(root);
  WrittenFiles record(root);
  fs::create_directories(o.dim == 2 ? root / "data" / "slices" : root);
  const int64_t num_classes = static_cast<int64_t>(ds.class_names.size());
  std::vector<std::string> train_items, unlabeled_items, val_items;
  std::vector<std::vector<int64_t>> train_shapes;
  std::vector<std::vector<double>> train_spacings;
  std::vector<double> slice_spacings;
  torch::Tensor class_voxels = torch::zeros({num_classes}, torch::kDouble);
  std::vector<std::vector<torch::Tensor>> intensity_samples(ds.channel_names.size());
  json cases = json::object();

  // Labeled training, unlabeled, then validation cases, in that order.
  std::vector<std::pair<const NnunetCase*, Role>> work;
  for (const auto& c : ds.training)
    work.push_back({&c, val.count(c.name) ? Role::kVal : Role::kLabeled});
  std::stable_partition(work.begin(), work.end(),
                        [](const auto& w) { return w.second == Role::kLabeled; });
  for (const auto& c : unlabeled) work.push_back({&c, Role::kUnlabeled});
  std::stable_partition(work.begin(), work.end(),
                        [](const auto& w) { return w.second != Role::kVal; });

  for (size_t i = 0; i < work.size(); ++i) {
    const NnunetCase& c = *work[i].first;
    const Role role = work[i].second;
    io::Volume image = io::read_volume(c.images[0]);
    std::vector<torch::Tensor> channels = {image.data};
    for (size_t k = 1; k < c.images.size(); ++k)
      channels.push_back(checked_channel(image, c.images[k]));
    if (o.dim == 3 && image.data.dim() != 3)
      throw std::runtime_error(c.images[0] + ": 3D preparation needs 3D images, got shape " +
                               c10::str(image.data.sizes()));
    torch::Tensor label = role == Role::kUnlabeled
                              ? torch::zeros(image.data.sizes(), torch::kUInt8)
                              : checked_label(image, c.label, num_classes, ds.ignore_value);
    // Every channel normalised on its own (as nnU-Net does), stacked channels first.
    std::vector<torch::Tensor> normalised;
    for (size_t k = 0; k < channels.size(); ++k) {
      try {
        normalised.push_back(normalize_intensity(channels[k], out.intensity));
      } catch (const std::exception& e) {
        throw std::runtime_error(c.images[k] + ": " + util::error_message(e));
      }
    }
    torch::Tensor img = torch::stack(normalised);  // (C, spatial...)
    if (role == Role::kLabeled) {
      const torch::Tensor flat = label.flatten();
      class_voxels += torch::bincount(flat.masked_select(data::annotated(flat)).to(torch::kLong),
                                      {}, num_classes)
                          .to(torch::kDouble);
      for (size_t k = 0; k < channels.size(); ++k) {
        // The sample first, then its conversion (not a double copy of the whole volume).
        const torch::Tensor flat = channels[k].flatten();
        const int64_t step = std::max<int64_t>(1, (flat.numel() + 19999) / 20000);
        intensity_samples[k].push_back(flat.slice(0, 0, flat.numel(), step).to(torch::kDouble));
      }
    }
    std::vector<double> spacing = image.spacing;
    if (img.dim() == 3) {  // a 2D scan is a volume of one slice
      img = img.unsqueeze(1);
      label = label.unsqueeze(0);
      spacing.insert(spacing.begin(), 1.0);
    }
    if (o.dim == 3) {
      // The LA layout keeps arrays as nibabel reads them (X, Y, Z): ITK's index order.
      img = img.permute({0, 3, 2, 1}).contiguous();
      label = label.permute({2, 1, 0}).contiguous();
      std::reverse(spacing.begin(), spacing.end());
    }
    // Single-channel files keep the authors' layout, without a channel axis.
    if (out.channels == 1) img = img[0];
    const int64_t spatial0 = out.channels == 1 ? 0 : 1;
    const auto spacing_t = torch::tensor(spacing, torch::kDouble);
    if (o.dim == 2 && role != Role::kVal) {
      for (int64_t z = 0; z < label.size(0); ++z) {
        // A slice nobody annotated (sparse annotation) would weigh nothing in any loss: it
        // serves as an unlabeled image instead.
        const bool labeled_slice =
            role == Role::kLabeled && (!out.ignore_label || annotated(label[z]).any().item<bool>());
        auto& items = labeled_slice ? train_items : unlabeled_items;
        const std::string slice = c.name + "_slice_" + std::to_string(z + 1);
        io::write_h5_atomically(
            record(AcdcRoot(o.out_dir).slice_path(slice)),
            {{"image", img.select(spatial0, z).contiguous()}, {"label", label[z].contiguous()}});
        items.push_back(slice);
        train_shapes.push_back({label.size(1), label.size(2)});
      }
      train_spacings.push_back({spacing[1], spacing[2]});
      slice_spacings.push_back(spacing[0]);
    } else {
      const std::string path = o.dim == 2 ? AcdcRoot(o.out_dir).volume_path(c.name)
                                          : LaRoot(o.out_dir).volume_path(c.name);
      fs::create_directories(fs::path(path).parent_path());
      io::write_h5_atomically(record(path),
                              {{"image", img}, {"label", label}, {"spacing", spacing_t}});
      if (role == Role::kVal) {
        val_items.push_back(c.name);
      } else {
        (role == Role::kLabeled ? train_items : unlabeled_items).push_back(c.name);
        train_shapes.push_back(label.sizes().vec());
        train_spacings.push_back(spacing);
        slice_spacings.push_back(spacing.back());
      }
    }
    const char* role_name = role == Role::kLabeled ? "labeled"
                            : role == Role::kVal   ? "val"
                                                   : "unlabeled";
    cases[c.name] = {{"role", role_name},
                     {"image", c.images[0]},
                     {"label", c.label},
                     {"shape", image.data.sizes().vec()},
                     {"spacing", image.spacing},
                     {"origin", image.origin},
                     {"direction", image.direction}};
    if (progress) progress(c.name, i, work.size());
  }

  out.train_list = o.dim == 2 ? "train_slices.list" : "train.list";
  out.labeled_items = static_cast<int64_t>(train_items.size());
  out.unlabeled_items = static_cast<int64_t>(unlabeled_items.size());
  std::vector<int64_t> min_shape = train_shapes.front();
  for (const auto& s : train_shapes)
    for (size_t d = 0; d < s.size(); ++d) min_shape[d] = std::min(min_shape[d], s[d]);
  std::vector<int64_t> max_shape = train_shapes.front();
  for (const auto& s : train_shapes)
    for (size_t d = 0; d < s.size(); ++d) max_shape[d] = std::max(max_shape[d], s[d]);
  out.name = ds.name;
  out.min_shape = min_shape;
  out.max_shape = max_shape;
  out.median_shape = median_of(train_shapes);
  out.median_spacing = median_of(train_spacings);
  {
    std::vector<std::vector<double>> ss;
    for (double v : slice_spacings) ss.push_back({v});
    out.median_slice_spacing = median_of(ss)[0];
  }
  const double labeled_voxels = class_voxels.sum().item<double>();
  for (int64_t k = 0; k < num_classes; ++k)
    out.class_fraction.push_back(
        labeled_voxels > 0 ? class_voxels[k].item<double>() / labeled_voxels : 0.0);
  for (const auto& samples : intensity_samples) {
    const torch::Tensor v = torch::cat(samples);
    ChannelStats st;
    st.mean = v.mean().item<double>();
    st.sd = v.numel() > 1 ? v.std().item<double>() : 0.0;
    st.min = v.min().item<double>();
    st.max = v.max().item<double>();
    const torch::Tensor sorted = std::get<0>(v.sort());
    const auto at = [&](double q) {
      return sorted[static_cast<int64_t>(q * static_cast<double>(v.numel() - 1))].item<double>();
    };
    st.p005 = at(0.005);
    st.p995 = at(0.995);
    out.intensity_stats.push_back(st);
  }

  // Whatever else the caller writes (bcp.json) goes before the lists: a failure there leaves the
  // root marked unfinished.
  if (o.before_lists)
    for (const auto& [name, text] : o.before_lists(out))
      io::write_file_atomically(record((root / name).string()), text);
  std::vector<std::string> train_list = train_items;
  train_list.insert(train_list.end(), unlabeled_items.begin(), unlabeled_items.end());
  write_case_list(record((root / out.train_list).string()), train_list);
  if (o.dim == 2) {
    std::vector<std::string> volumes = out.labeled_cases;
    volumes.insert(volumes.end(), out.unlabeled_cases.begin(), out.unlabeled_cases.end());
    write_case_list(record((root / "train.list").string()), volumes);
  }
  write_case_list(record((root / "val.list").string()), val_items);
  const json manifest = {
      {"format", "bcp-prepared"},
      {"version", 1},
      {"source", o.nnunet_dir},
      {"unlabeled_source", o.unlabeled_dir},
      {"name", ds.name},
      {"dim", o.dim},
      // 2D roots store volumes as ITK reads them (slices first); 3D ones in ITK index order.
      {"array_axes", o.dim == 2 ? "zyx" : "xyz"},
      {"classes", ds.class_names},
      {"channels", ds.channel_names},
      {"intensity",
       {{"kind", out.intensity.kind},
        {"ct_window", {out.intensity.ct_low, out.intensity.ct_high}}}},
      {"train_list", out.train_list},
      {"labeled_items", out.labeled_items},
      {"unlabeled_items", out.unlabeled_items},
      {"fingerprint", fingerprint_to_json(out)},
      {"cases", cases}};
  io::write_file_atomically(record((root / "bcp_dataset.json").string()), manifest.dump(2) + "\n");
  fs::remove(root / kIncompleteMarker);
  io::fsync_path(root.string());
  return out;
}

}  // namespace bcp::data
