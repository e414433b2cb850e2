#include "op_profile.h"

#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

namespace bcp::bench {

namespace {

namespace prof = torch::autograd::profiler;

/// An event's operator name, with its input shapes when asked for (inputs without a shape,
/// scalars and non-tensors, left out).
std::string op_name(const prof::LegacyEvent& e, bool shapes) {
  std::string name = e.name();
  if (!shapes) return name;
  for (const std::vector<int64_t>& s : e.shapes()) {
    if (s.empty()) continue;
    name += " [";
    for (size_t i = 0; i < s.size(); ++i) name += (i ? ", " : "") + std::to_string(s[i]);
    name += "]";
  }
  return name;
}

/// Self time per operator name from one thread's push/pop events, which nest as a stack.
void add_thread(const std::vector<prof::LegacyEvent>& events, bool shapes,
                std::map<std::string, OpTime>* by_name) {
  struct Open {
    const prof::LegacyEvent* push;
    double children_us = 0;
  };
  std::vector<Open> stack;
  for (const auto& e : events) {
    if (e.kind() == prof::EventKind::PushRange) {
      stack.push_back({&e});
    } else if (e.kind() == prof::EventKind::PopRange && !stack.empty()) {
      // A pop closes the innermost open range with its handle (ranges of one thread nest).
      auto it = std::find_if(stack.rbegin(), stack.rend(),
                             [&](const Open& o) { return o.push->handle() == e.handle(); });
      if (it == stack.rend()) continue;
      const Open open = *it;
      stack.erase(std::next(it).base(), stack.end());
      const double us = open.push->cpuElapsedUs(e);
      const std::string name = op_name(*open.push, shapes);
      OpTime& t = by_name->try_emplace(name, OpTime{name}).first->second;
      t.self_seconds += std::max(0.0, us - open.children_us) * 1e-6;
      t.calls += 1;
      if (!stack.empty()) stack.back().children_us += us;
    }
  }
}

}  // namespace

OpProfile profile_ops(const std::function<void()>& fn, bool shapes) {
  prof::enableProfilerLegacy(
      torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU, shapes));
  const auto t0 = std::chrono::steady_clock::now();
  try {
    fn();
  } catch (...) {
    prof::disableProfilerLegacy();
    throw;
  }
  OpProfile p;
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const prof::thread_event_lists lists = prof::disableProfilerLegacy();
  std::map<std::string, OpTime> by_name;
  for (const auto& events : lists) add_thread(events, shapes, &by_name);
  for (auto& [name, t] : by_name) p.ops.push_back(std::move(t));
  std::sort(p.ops.begin(), p.ops.end(), [](const OpTime& a, const OpTime& b) {
    return a.self_seconds != b.self_seconds ? a.self_seconds > b.self_seconds : a.name < b.name;
  });
  return p;
}

nlohmann::json profile_json(const OpProfile& p, int top) {
  nlohmann::json rows = nlohmann::json::array();
  const auto share = [&](double s) { return p.seconds > 0 ? s / p.seconds : 0.0; };
  double in_ops = 0, other = 0;
  int64_t other_calls = 0;
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const OpTime& t = p.ops[i];
    in_ops += t.self_seconds;
    if (static_cast<int>(i) < top) {
      rows.push_back({{"op", t.name},
                      {"self_seconds", t.self_seconds},
                      {"share", share(t.self_seconds)},
                      {"calls", t.calls}});
    } else {
      other += t.self_seconds;
      other_calls += t.calls;
    }
  }
  if (other_calls > 0)
    rows.push_back({{"op", "(other operators)"},
                    {"self_seconds", other},
                    {"share", share(other)},
                    {"calls", other_calls}});
  const double outside = std::max(0.0, p.seconds - in_ops);
  rows.push_back({{"op", "(outside operators)"},
                  {"self_seconds", outside},
                  {"share", share(outside)},
                  {"calls", 0}});
  return rows;
}

}  // namespace bcp::bench
