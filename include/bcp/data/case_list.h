// Split lists (train_slices.list, val.list, ...): one case name a line.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace bcp::data {

/// Names in `path`, in file order. Trailing spaces/tabs and CR (CRLF files) are stripped, blank
/// lines skipped. Throws std::runtime_error naming the file when it is missing/unreadable, holds
/// no name ("empty split"), or holds a name that is not a plain one (naming the line; see
/// is_plain_case_name).
std::vector<std::string> read_case_list(const std::string& path);
/// The same rules over a list's text; errors start with `source` (the file name).
std::vector<std::string> parse_case_list(const std::string& text, const std::string& source);

/// A case name that stays inside its data root as a file or folder name: not empty, not "." or
/// "..", no '/', '\\' or NUL. Lists with "../x" or "/abs" would read and write outside the root.
bool is_plain_case_name(const std::string& name);
/// Throws std::invalid_argument naming `name` unless is_plain_case_name(name).
void check_case_name(const std::string& name);

/// The patient a case name belongs to: the text before "_frame" ("patient003_frame01_slice_4"
/// -> "patient003"), else before "_slice", else the whole name.
std::string patient_of(const std::string& name);

/// How many leading entries of `names` belong to the first `patients` distinct patients, so that a
/// labeled subset given in patients ("3 patients = 68 slices" for ACDC) becomes a count.
/// Requires each patient's names to be contiguous, as in the standard lists; throws
/// std::invalid_argument naming the patient otherwise, or when `patients` < 1 or exceeds the list.
int64_t count_first_patients(const std::vector<std::string>& names, int64_t patients);

/// Throws std::invalid_argument naming `where` when `name` cannot be one line of a list (it holds
/// a line break or another control character).
void check_listable_name(const std::string& name, const std::string& where);

/// Writes `names` one a line (LF) to `path` via a temporary file renamed into place.
/// Throws std::runtime_error naming the file on IO failure, std::invalid_argument for a name
/// check_listable_name refuses.
void write_case_list(const std::string& path, const std::vector<std::string>& names);

}  // namespace bcp::data
