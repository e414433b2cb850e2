// Per-case progress of evaluate, predict and prepare on stderr: one line redrawn in place on a
// terminal, one line per case otherwise (logs, CI).
#pragma once
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "bcp/util/progress.h"

namespace bcp::cli {

/// A printer for "[i/n] ..." lines; the live line is erased when the last copy is destroyed.
inline std::function<void(const std::string&)> case_progress() {
  auto line = std::make_shared<util::ProgressLine>(stderr);
  return [line](const std::string& text) {
    if (line->active())
      line->update(text, /*force=*/true);
    else
      std::cerr << text << "\n";
  };
}

}  // namespace bcp::cli
