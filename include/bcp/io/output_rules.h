// What an output may replace. bcp writes only into folders that are new, empty or its own, and
// never over a file the same command reads: a mistyped --out must fail before it costs the user a
// reference mask, a training log or a dataset.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace bcp::io {

/// Whether `path` is `folder` or lies inside it, judged on the resolved paths (links and `..`
/// followed as far as they exist).
bool same_or_inside(const std::filesystem::path& path, const std::filesystem::path& folder);

/// Throws std::invalid_argument when writing the output file `out` (named by `option`, e.g.
/// "--out") would replace something the command reads: `out` is one of `inputs` (files or
/// folders), or exists inside one of them. A new file inside an input folder is allowed.
void refuse_output_over_input(const std::string& out, const std::string& option,
                              const std::vector<std::string>& inputs);

/// Throws std::invalid_argument when the output folder `out` is one of `inputs`, lies inside one
/// or holds one: for commands that clear or fill a whole folder.
void refuse_folder_overlapping_inputs(const std::string& out, const std::string& option,
                                      const std::vector<std::string>& inputs);

/// Throws std::runtime_error when `out` exists and is not an empty folder; `what` says what the
/// command writes there ("a new dataset").
void refuse_non_empty_folder(const std::string& out, const std::string& what);

}  // namespace bcp::io
