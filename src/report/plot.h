// The paper figure of one matrix (`ptq plot`, `ptq report`, paper/): fake_quant perplexity against weight bits, one
// line per value of the rows axis (method), on a log-scale y axis, as SVG (src/report/svg.h).
//
//   x          weight bits of each run's scheme (linear axis, a tick at every integer bit count in range)
//   y          perplexity, log10 scale; ticks m·10^k with m from the coarsest of the mantissa sets
//              {1}, {1,2,5}, {1..9}, {1,1.5,..,9.5}, {1,1.1,..,9.9}, ... that gives at least 5 ticks;
//              the axis runs from the tick just below the data to the tick just above it
//   point      mean over the runs with that method and weight bits (seeds), an error bar of ± 1 sample std when
//              there are two or more runs; a run's scheme family (the scheme without its "w<bits>", e.g. "g32" or
//              "a8") splits a method into several lines when the matrix mixes families: one colour per method, one
//              marker and dash style per family
//   fp         the pretrain perplexity as a dashed horizontal line
//   legend, title, axis labels, and a caption with what is averaged and the evaluation protocol
// The same table gives the same bytes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "report/table.h"

namespace ptq {

struct PlotPoint {
  int bits = 0;
  Stat stat;
};

struct PlotSeries {
  std::string label;
  std::vector<PlotPoint> points;  // by increasing bits
  size_t row_index = 0;           // the method's position among the rows: its colour
  size_t family_index = 0;        // the scheme family's position: solid line and circles for the first, dashed
                                  // line and squares for the others
};

// The dataset a figure shows: `requested` if given (it must be one of the table's), else the table's only dataset;
// errors name the matrix and list the datasets.
std::string plot_dataset(const MatrixTable& t, const std::string& requested);

// The lines of the figure for one dataset, in row order.
std::vector<PlotSeries> plot_series(const MatrixTable& t, const std::string& dataset);

// The y-axis ticks for data spanning [lo, hi] (both > 0), by the rule above.
std::vector<double> log_ticks(double lo, double hi);

// The figure: an <svg> element (standalone = with the XML declaration, for a .svg file).
std::string ppl_bits_figure(const MatrixTable& t, const std::string& dataset, bool standalone);

}  // namespace ptq
