#include "bcp/analysis/gnuplot.h"

#include <cctype>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "bcp/util/subprocess.h"

namespace bcp::analysis {
namespace {

/// A gnuplot single-quoted string: its only escape is '' for '; newlines would end the command.
std::string quoted(const std::string& text) {
  std::string q = "'";
  for (char ch : text) {
    if (ch == '\'')
      q += "''";
    else if (ch == '\n' || ch == '\r')
      q += ' ';
    else
      q += ch;
  }
  return q + "'";
}

bool valid_color(const std::string& c) {
  if (c.size() != 7 || c[0] != '#') return false;
  for (size_t i = 1; i < 7; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(c[i]))) return false;
  return true;
}

}  // namespace

std::string palette_color(size_t i) {
  static const char* kColors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                  "#E69F00", "#56B4E9", "#000000", "#F0E442"};
  return kColors[i % (sizeof kColors / sizeof kColors[0])];
}

std::string gnuplot_script(const LinePlot& plot, PlotFormat format, int width, int height) {
  std::ostringstream s;
  s << std::setprecision(9);
  if (format == PlotFormat::kSvg)
    s << "set terminal svg size " << width << "," << height
      << " font 'DejaVu Sans,11' background rgb 'white'\n";
  else
    s << "set terminal pngcairo size " << width << "," << height
      << " font 'DejaVu Sans,10' background rgb 'white'\n";
  s << "set termoption noenhanced\n"  // underscores in names stay underscores
    << "set title " << quoted(plot.title) << "\n"
    << "set xlabel " << quoted(plot.xlabel) << "\n"
    << "set ylabel " << quoted(plot.ylabel) << "\n"
    << "set grid lc rgb '#dddddd'\nset border 3\nset tics nomirror\n"
    << "set key outside right top box opaque\nset datafile missing 'NaN'\n";
  if (!std::isnan(plot.ymin) || !std::isnan(plot.ymax)) {
    s << "set yrange [" << (std::isnan(plot.ymin) ? std::string("*") : std::to_string(plot.ymin))
      << ":" << (std::isnan(plot.ymax) ? std::string("*") : std::to_string(plot.ymax)) << "]\n";
  }
  std::vector<std::string> parts;
  for (size_t i = 0; i < plot.series.size(); ++i) {
    const Series& sr = plot.series[i];
    if (sr.x.size() != sr.y.size())
      throw std::invalid_argument("plot '" + plot.title + "': series '" + sr.name + "' has " +
                                  std::to_string(sr.x.size()) + " x and " +
                                  std::to_string(sr.y.size()) + " y values");
    bool any = false;
    for (size_t k = 0; k < sr.x.size(); ++k)
      any = any || (std::isfinite(sr.x[k]) && std::isfinite(sr.y[k]));
    if (!any) continue;  // gnuplot refuses a series with nothing to draw
    s << "$d" << i << " << EOD\n";
    for (size_t k = 0; k < sr.x.size(); ++k) {
      if (!std::isfinite(sr.x[k])) continue;
      s << sr.x[k] << " ";
      if (std::isfinite(sr.y[k]))
        s << sr.y[k] << "\n";
      else
        s << "NaN\n";
    }
    s << "EOD\n";
    const std::string color =
        sr.color.empty() ? palette_color(i) : (valid_color(sr.color) ? sr.color : "#000000");
    const std::string d = "$d" + std::to_string(i);
    if (sr.fill)
      parts.push_back(d + " using 1:2 with filledcurves y1=0 fs transparent solid 0.25 noborder " +
                      "lc rgb '" + color + "' notitle");
    const std::string style = sr.x.size() == 1 ? "linespoints pt 7" : "lines";
    parts.push_back(d + " using 1:2 with " + style + " lw 2 lc rgb '" + color + "' title " +
                    quoted(sr.name));
  }
  if (parts.empty()) throw std::runtime_error("plot '" + plot.title + "': no data to plot");
  s << "plot ";
  for (size_t i = 0; i < parts.size(); ++i) s << (i ? ", \\\n     " : "") << parts[i];
  s << "\n";
  return s.str();
}

std::string render_plot(const LinePlot& plot, PlotFormat format, int width, int height) {
  const std::string script = gnuplot_script(plot, format, width, height);
  if (util::find_program("gnuplot").empty())
    throw std::runtime_error(
        "gnuplot is not installed (Debian: apt install gnuplot-nox); it draws bcp's plots");
  const util::ProcessResult r = util::run_process({"gnuplot"}, script);
  if (r.exit_code != 0 || r.out.empty()) {
    std::string why = r.err.empty() ? "no output" : r.err;
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    throw std::runtime_error("gnuplot failed on plot '" + plot.title + "' (exit " +
                             std::to_string(r.exit_code) + "): " + why);
  }
  return r.out;
}

}  // namespace bcp::analysis
