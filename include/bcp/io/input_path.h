// Inputs stay inside the data root the user named. Case names from lists are plain names (no
// '/', '..'), and a file reached by name inside a root must not lead elsewhere through a
// symbolic link either, unless the user allows it: a root assembled from links to a shared
// dataset is legitimate, a link planted to pull in another patient's scan is not.
#pragma once
#include <string>

namespace bcp::io {

/// Process-wide: whether files inside a data root may resolve, through symbolic links, to places
/// outside it (`bcp --follow-links`). Off by default.
void set_follow_links_out_of_root(bool follow);
bool follow_links_out_of_root();

/// `path`, a file or folder named inside `root`, unchanged. Throws std::runtime_error naming it
/// when it exists and resolves outside `root` (symbolic links on the way; `root` itself may be
/// a link), unless following links out of a root is allowed. A path that does not exist yet is
/// judged by its existing part.
std::string inside_root(const std::string& root, const std::string& path);

/// `root`/`name` for a file the user names relative to a data root (a case list such as
/// val.list, or lists/fold1.list). Throws std::invalid_argument when `name` is empty, absolute
/// or has a '..' part (whatever --follow-links says), then checks links as inside_root does.
std::string file_in_root(const std::string& root, const std::string& name);

}  // namespace bcp::io
