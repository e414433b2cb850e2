// Command-line options whose values are one of an enum's names (util/enum_names.h): the same
// table as the config files, so the two never disagree about what is valid.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

#include "bcp/util/enum_names.h"

namespace bcp::cli {

/// `--flag NAME` into `value`; an unknown name is a usage error listing the valid ones.
template <typename E>
CLI::Option* add_enum_option(CLI::App& cmd, const std::string& flag, E& value,
                             const std::string& help) {
  return cmd.add_option_function<std::string>(
      flag,
      [&value, flag](const std::string& text) {
        try {
          value = util::parse_enum<E>(text);
        } catch (const util::UnknownName& e) {
          throw CLI::ValidationError(flag, e.what());
        }
      },
      help + " (" + util::valid_names<E>() + ")");
}

}  // namespace bcp::cli
