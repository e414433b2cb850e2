#include "bcp/io/volume_geometry.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

namespace bcp::io {
namespace {

bool close(const std::vector<double>& a, const std::vector<double>& b, double tolerance) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::abs(a[i] - b[i]) > tolerance * std::max(1.0, std::abs(a[i]))) return false;
  return true;
}

std::string list(const std::vector<double>& v) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << "]";
  return s.str();
}

}  // namespace

bool same_geometry(const Volume& a, const Volume& b, double tolerance) {
  return close(a.spacing, b.spacing, tolerance) && close(a.origin, b.origin, tolerance) &&
         close(a.direction, b.direction, tolerance);
}

std::string geometry_text(const Volume& v) {
  return "spacing " + list(v.spacing) + ", origin " + list(v.origin) + ", direction " +
         list(v.direction);
}

}  // namespace bcp::io
