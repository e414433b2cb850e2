// Closed sets of choices as enums, each with its spellings in one table: JSON and the command line
// read and write the names, and an unknown name is an error that lists the valid ones.
// (nlohmann's NLOHMANN_JSON_SERIALIZE_ENUM maps an unknown string silently to the first value;
// BCP_ENUM_NAMES defines the same to_json/from_json pair from one table, refusing what is not in
// it.)
#pragma once
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bcp::util {

/// Thrown for a name that is not in an enum's table.
struct UnknownName : std::invalid_argument {
  UnknownName(std::string value, std::string valid)
      : std::invalid_argument("unknown value \"" + value + "\" (valid: " + valid + ")"),
        value(std::move(value)),
        valid(std::move(valid)) {}
  std::string value;  ///< what was given
  std::string valid;  ///< "a, b or c"
};

/// The spelling of `value` (enum_names is found next to the enum by argument-dependent lookup).
template <typename E>
std::string_view name_of(E value) {
  for (const auto& [v, name] : enum_names(E{}))
    if (v == value) return name;
  return "?";
}

/// "a, b or c".
template <typename E>
std::string valid_names() {
  std::string out;
  const auto& items = enum_names(E{});
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
    out += items[i].second;
  }
  return out;
}

/// The value spelt `text`; throws UnknownName.
template <typename E>
E parse_enum(std::string_view text) {
  for (const auto& [v, name] : enum_names(E{}))
    if (name == text) return v;
  throw UnknownName(std::string(text), valid_names<E>());
}

}  // namespace bcp::util

/// Next to `enum class E` (same namespace): its table and nlohmann's to_json/from_json, e.g.
///   BCP_ENUM_NAMES(Method, {Method::kSupervised, "supervised"}, {Method::kBcp, "bcp"})
#define BCP_ENUM_NAMES(E, ...)                                                                   \
  inline const std::vector<std::pair<E, std::string_view>>& enum_names(E) {                      \
    static const std::vector<std::pair<E, std::string_view>> names{__VA_ARGS__};                 \
    return names;                                                                                \
  }                                                                                              \
  inline void to_json(nlohmann::json& j, E value) {                                              \
    j = std::string(::bcp::util::name_of(value));                                                \
  }                                                                                              \
  inline void from_json(const nlohmann::json& j, E& value) {                                     \
    if (!j.is_string()) throw ::bcp::util::UnknownName(j.dump(), ::bcp::util::valid_names<E>()); \
    value = ::bcp::util::parse_enum<E>(j.get_ref<const std::string&>());                         \
  }
