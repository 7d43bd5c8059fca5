#include "report/escape.h"

namespace ptq {

std::string xml_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string latex_escape(const std::string& s) {
  std::string o;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    switch (c) {
      case '\\': o += "\\textbackslash{}"; break;
      case '{': case '}': case '_': case '&': case '%': case '#': case '$': o += std::string("\\") + c; break;
      case '^': o += "\\textasciicircum{}"; break;
      case '~': o += "\\textasciitilde{}"; break;
      case '<': o += "\\textless{}"; break;
      case '>': o += "\\textgreater{}"; break;
      case '|': o += "\\textbar{}"; break;
      case '"': o += "\\textquotedbl{}"; break;
      default:
        if (s.compare(i, 2, "±") == 0) {
          o += "$\\pm$";
          ++i;
        } else {
          o += c;
        }
    }
  }
  return o;
}

}  // namespace ptq
