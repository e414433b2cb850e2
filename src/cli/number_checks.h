// Checks for numeric options whose messages a user can read: CLI11's PositiveNumber and
// NonNegativeNumber print their range with the largest double spelled out in 300 digits.
#pragma once
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace bcp::cli {

/// A finite number above 0 (`strict`) or at least 0.
inline CLI::Validator zero_bound(bool strict) {
  return CLI::Validator(
      [strict](std::string& text) -> std::string {
        errno = 0;
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || errno == ERANGE || std::isnan(v))
          return "expects a number, got '" + text + "'";
        // inf passes "> 0", and fails late (a bandwidth of inf makes every density 0).
        if (!std::isfinite(v)) return "expects a finite number, got '" + text + "'";
        if (strict ? !(v > 0) : !(v >= 0))
          return std::string("must be ") + (strict ? "> 0" : ">= 0") + ", got " + text;
        return {};
      },
      strict ? "> 0" : ">= 0");
}

inline CLI::Validator positive() {
  return zero_bound(true);
}
inline CLI::Validator non_negative() {
  return zero_bound(false);
}

/// A whole number that is a multiple of `n` (CLI11's Range checks the bounds beside it).
inline CLI::Validator multiple_of(long n) {
  return CLI::Validator(
      [n](std::string& text) -> std::string {
        errno = 0;
        char* end = nullptr;
        const long v = std::strtol(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || errno == ERANGE)
          return "expects a whole number, got '" + text + "'";
        if (v % n != 0) return "must be a multiple of " + std::to_string(n) + ", got " + text;
        return {};
      },
      "multiple of " + std::to_string(n));
}

}  // namespace bcp::cli
