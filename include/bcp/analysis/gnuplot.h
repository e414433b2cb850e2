// Line plots drawn by gnuplot (Debian's gnuplot-nox), a real plotting engine run as a child
// process: the script and its data go to its stdin and the image comes back on its stdout, so
// nothing is written to disk. Used by `bcp report` (SVG) and `bcp kde` (PNG).
#pragma once
#include <limits>
#include <string>
#include <vector>

namespace bcp::analysis {

struct Series {
  std::string name;          ///< legend entry
  std::vector<double> x, y;  ///< same length; NaN y values leave a gap
  std::string color;         ///< "#rrggbb"; empty: the next of the palette
  bool fill = false;         ///< shade the area under the curve (a density)
};

struct LinePlot {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  double ymin = std::numeric_limits<double>::quiet_NaN();  ///< NaN: automatic
  double ymax = std::numeric_limits<double>::quiet_NaN();
};

enum class PlotFormat { kSvg, kPng };

/// The colour of series i when it names none: a colour-blind-safe palette (Okabe-Ito).
std::string palette_color(size_t i);

/// The gnuplot script render_plot feeds to gnuplot (data inline as datablocks).
std::string gnuplot_script(const LinePlot& plot, PlotFormat format, int width, int height);

/// The plot as SVG text or PNG bytes, width x height pixels. Throws std::runtime_error when
/// gnuplot is not installed (saying which package brings it), fails, or there is nothing to plot.
std::string render_plot(const LinePlot& plot, PlotFormat format, int width = 640, int height = 360);

}  // namespace bcp::analysis
