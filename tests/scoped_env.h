// Environment variables set (or, with nullptr, unset) for one scope, restored after it.
#pragma once
#include <stdlib.h>

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace bcp::test {

struct ScopedEnv {
  std::vector<std::pair<std::string, std::string>> saved;
  std::vector<std::string> unset_later;
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const auto& [k, v] : vars) {
      if (const char* old = std::getenv(k))
        saved.emplace_back(k, old);
      else
        unset_later.push_back(k);
      if (v)
        ::setenv(k, v, 1);
      else
        ::unsetenv(k);
    }
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : saved) ::setenv(k.c_str(), v.c_str(), 1);
    for (const auto& k : unset_later) ::unsetenv(k.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
};

}  // namespace bcp::test
