// nnU-Net v2 raw dataset folders, the layout most medical-imaging users already keep:
//   DIR/dataset.json                    channel_names, labels, file_ending
//   DIR/imagesTr/CASE_0000<ending>      one file per input channel (_0000, _0001, ...)
//   DIR/labelsTr/CASE<ending>           integer label map
//   DIR/imagesTs/CASE_0000<ending>      optional, unlabeled test images
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <map>
#include <string>
#include <vector>

namespace bcp::data {

/// One case: its name and one image path per channel; `label` empty for unlabeled images.
struct NnunetCase {
  std::string name;
  std::vector<std::string> images;
  std::string label;
};

struct NnunetDataset {
  std::string dir;
  std::string name;                        ///< dataset.json "name" (may be empty)
  std::vector<std::string> channel_names;  ///< index = channel
  std::vector<std::string> class_names;    ///< index = label value, 0 = background
  int64_t ignore_value = -1;  ///< the "ignore" label's value (K, after the classes); -1 = none
  std::string file_ending;    ///< e.g. ".nii.gz"
  std::vector<NnunetCase> training;  ///< imagesTr with their labelsTr, sorted by name
};

/// The labels of a dataset.json object.
struct NnunetLabels {
  std::vector<std::string> class_names;  ///< indexed by label value, 0 = background
  int64_t ignore_value = -1;             ///< the "ignore" label's value; -1 = none
};

/// Its "labels" must map names to the values 0..K-1, and may add nnU-Net v2's "ignore" (voxels
/// nobody annotated) as K, the highest value, as nnU-Net requires. Throws std::runtime_error
/// naming `meta_path`.
NnunetLabels nnunet_labels(const nlohmann::json& meta, const std::string& meta_path);

/// Reads dataset.json and pairs imagesTr with labelsTr. Throws std::runtime_error, one line
/// naming the file or case: missing or invalid dataset.json, labels that are not the values
/// 0..K-1 with 0 = background (and "ignore" = K; nnU-Net's region lists are refused), an image
/// without its label,
/// a label without its image, a missing channel file.
NnunetDataset read_nnunet_dataset(const std::string& dir);

/// The cases of a folder of images named CASE_XXXX<file_ending> (imagesTs, a folder of
/// unlabeled scans), each with `channels` channel files; sorted by name. Throws naming the case
/// when a channel is missing or the folder holds no image.
std::vector<NnunetCase> find_nnunet_images(const std::string& dir, const std::string& file_ending,
                                           size_t channels);

/// nnU-Net's channel suffix of a file stem: "CASE_0001" -> 1, with *case_name = "CASE"; -1 when
/// the stem does not end in _XXXX (four digits) after a non-empty case name.
int channel_of_stem(const std::string& stem, std::string* case_name);
/// "CASE_0001<ending>": the file name of one channel.
std::string channel_file_name(const std::string& case_name, size_t channel,
                              const std::string& ending);
/// The files of channels 0..channels-1 of one case, from channel -> path. Throws naming the file
/// expected in `dir` when a channel is missing, or the case when it has more files.
std::vector<std::string> channel_list(const std::string& case_name,
                                      const std::map<int, std::string>& files, size_t channels,
                                      const std::string& dir, const std::string& ending);

}  // namespace bcp::data
