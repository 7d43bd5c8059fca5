#include "report/svg.h"

#include <fmt/format.h>

#include "core/error.h"
#include "report/escape.h"

namespace ptq {

SvgWriter::SvgWriter(double width, double height) : width_(width), height_(height) {}

std::string SvgWriter::num(double v) {
  std::string s = fmt::format("{:.2f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string SvgWriter::points(const std::vector<std::pair<double, double>>& pts) {
  std::string s;
  for (const auto& [x, y] : pts) s += (s.empty() ? "" : " ") + num(x) + "," + num(y);
  return s;
}

void SvgWriter::start_tag(const std::string& tag, const Attrs& attrs) {
  body_ += std::string(2 * (open_.size() + 1), ' ') + "<" + tag;
  for (const auto& [k, v] : attrs) body_ += " " + k + "=\"" + xml_escape(v) + "\"";
}

void SvgWriter::element(const std::string& tag, const Attrs& attrs) {
  start_tag(tag, attrs);
  body_ += "/>\n";
}

void SvgWriter::element(const std::string& tag, const Attrs& attrs, const std::string& text) {
  start_tag(tag, attrs);
  body_ += ">" + xml_escape(text) + "</" + tag + ">\n";
}

void SvgWriter::open(const std::string& tag, const Attrs& attrs) {
  start_tag(tag, attrs);
  body_ += ">\n";
  open_.push_back(tag);
}

void SvgWriter::close() {
  PTQ_ASSERT(!open_.empty(), "SvgWriter::close without an open element");
  const std::string tag = open_.back();
  open_.pop_back();
  body_ += std::string(2 * (open_.size() + 1), ' ') + "</" + tag + ">\n";
}

void SvgWriter::line(double x1, double y1, double x2, double y2, const Attrs& extra) {
  Attrs a = {{"x1", num(x1)}, {"y1", num(y1)}, {"x2", num(x2)}, {"y2", num(y2)}};
  a.insert(a.end(), extra.begin(), extra.end());
  element("line", a);
}

void SvgWriter::rect(double x, double y, double w, double h, const Attrs& extra) {
  Attrs a = {{"x", num(x)}, {"y", num(y)}, {"width", num(w)}, {"height", num(h)}};
  a.insert(a.end(), extra.begin(), extra.end());
  element("rect", a);
}

void SvgWriter::circle(double cx, double cy, double r, const Attrs& extra) {
  Attrs a = {{"cx", num(cx)}, {"cy", num(cy)}, {"r", num(r)}};
  a.insert(a.end(), extra.begin(), extra.end());
  element("circle", a);
}

void SvgWriter::text(double x, double y, const std::string& text, const Attrs& extra) {
  Attrs a = {{"x", num(x)}, {"y", num(y)}};
  a.insert(a.end(), extra.begin(), extra.end());
  element("text", a, text);
}

std::string SvgWriter::fragment() const {
  PTQ_ASSERT(open_.empty(), "SvgWriter: <{}> left open", open_.empty() ? "" : open_.back());
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n{2}</svg>\n",
      num(width_), num(height_), body_);
}

std::string SvgWriter::document() const { return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + fragment(); }

}  // namespace ptq
