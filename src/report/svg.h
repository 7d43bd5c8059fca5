// A small SVG writer for ptq's figures (no external library): elements are appended in order, attribute values and
// text are XML-escaped, coordinates are written with at most two decimals, so a figure built from the same numbers is
// the same bytes. document() is a standalone .svg file; fragment() is the <svg> element alone, for inline HTML.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ptq {

class SvgWriter {
 public:
  using Attrs = std::vector<std::pair<std::string, std::string>>;

  SvgWriter(double width, double height);

  // <tag attrs/>
  void element(const std::string& tag, const Attrs& attrs);
  // <tag attrs>escaped text</tag>
  void element(const std::string& tag, const Attrs& attrs, const std::string& text);
  // <tag attrs> ... close(); nesting is checked (an unbalanced document is an internal error).
  void open(const std::string& tag, const Attrs& attrs = {});
  void close();

  // Shorthands for what the figures draw.
  void line(double x1, double y1, double x2, double y2, const Attrs& extra = {});
  void rect(double x, double y, double w, double h, const Attrs& extra = {});
  void circle(double cx, double cy, double r, const Attrs& extra = {});
  void text(double x, double y, const std::string& text, const Attrs& extra = {});

  double width() const { return width_; }
  double height() const { return height_; }

  std::string fragment() const;  // <svg xmlns=... width height viewBox>...</svg>
  std::string document() const;  // XML declaration + fragment()

  // A coordinate or length: fixed notation, at most two decimals, no trailing zeros, never "-0".
  static std::string num(double v);
  // "x1,y1 x2,y2 ..." for <polyline points>.
  static std::string points(const std::vector<std::pair<double, double>>& pts);

 private:
  void start_tag(const std::string& tag, const Attrs& attrs);
  double width_, height_;
  std::string body_;
  std::vector<std::string> open_;
};

}  // namespace ptq
