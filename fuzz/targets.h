// The fuzz targets: each takes arbitrary bytes through one of bcp's parsers of untrusted input.
// A refusal (an exception bcp throws for bad input) is the expected outcome; a crash, a sanitizer
// report, a hang or any other exception is a bug. Built two ways: as libFuzzer programs with
// address and undefined-behaviour sanitizers (scripts/fuzz.sh), and into the test suite, which
// replays the committed corpus (fuzz/corpus/<target>/) through the same functions.
#pragma once
#include <c10/util/Exception.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "bcp/data/case_list.h"
#include "bcp/eval/eval_protocol.h"
#include "bcp/nets/pth_import.h"
#include "bcp/train/config.h"

namespace bcp::fuzz {

/// Calls `fn`; bcp's refusals (std::runtime_error, std::invalid_argument, c10::Error, JSON errors)
/// are swallowed, anything else propagates.
template <typename Fn>
int refusals_allowed(Fn fn) {
  try {
    fn();
  } catch (const nlohmann::json::exception&) {
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  } catch (const std::out_of_range&) {
  } catch (const c10::Error&) {
  }
  return 0;
}

/// A .pth's pickle (data.pkl) through the restricted unpickler of `bcp import`.
inline int pickle(const uint8_t* data, size_t size) {
  return refusals_allowed(
      [&] { nets::describe_pickle(reinterpret_cast<const char*>(data), size); });
}

/// A training config file: JSON, the strict overlay onto the defaults, validation.
inline int config(const uint8_t* data, size_t size) {
  return refusals_allowed([&] {
    const auto j = nlohmann::json::parse(data, data + size);
    train::validate_config(train::config_from_json(j));
  });
}

/// A split list (train_slices.list, val.list).
inline int case_list(const uint8_t* data, size_t size) {
  return refusals_allowed([&] {
    data::parse_case_list(std::string(reinterpret_cast<const char*>(data), size), "fuzz.list");
  });
}

/// A checkpoint's eval_protocol record.
inline int eval_protocol(const uint8_t* data, size_t size) {
  return refusals_allowed(
      [&] { nlohmann::json::parse(data, data + size).get<eval::EvalProtocol>(); });
}

}  // namespace bcp::fuzz
