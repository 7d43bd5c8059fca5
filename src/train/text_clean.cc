#include "train/text_clean.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>

#include "core/utf8.h"

namespace ptq {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], 0 when it is invalid (overlong forms and surrogates included).
size_t utf8_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (n == 0 || c >= 0xF5 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
  if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogate
  if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
  if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // beyond U+10FFFF
  return n;
}

void push_paragraph(std::vector<std::string>& out, std::string_view text) {
  std::string p = normalize_paragraph(text);
  if (!p.empty()) out.push_back(std::move(p));
}

std::string lower(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return r;
}

// Decodes the entity starting at text[i] == '&'; appends its text and returns the bytes consumed (0: not an entity).
size_t decode_entity(std::string_view text, size_t i, std::string& out) {
  static const std::map<std::string, uint32_t> named = {
      {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
      {"nbsp", ' '},     {"mdash", 0x2014}, {"ndash", 0x2013}, {"hellip", 0x2026}, {"rsquo", 0x2019},
      {"lsquo", 0x2018}, {"rdquo", 0x201D}, {"ldquo", 0x201C}, {"copy", 0xA9},     {"reg", 0xAE},
      {"trade", 0x2122}, {"laquo", 0xAB},   {"raquo", 0xBB},   {"eacute", 0xE9},  {"shy", 0}};
  const size_t semi = text.find(';', i);
  if (semi == std::string_view::npos || semi - i > 10) return 0;
  const std::string_view name = text.substr(i + 1, semi - i - 1);
  if (name.empty()) return 0;
  uint32_t cp = 0;
  if (name[0] == '#') {
    const bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
    const std::string digits(name.substr(hex ? 2 : 1));
    if (digits.empty() || digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") != std::string::npos)
      return 0;
    cp = static_cast<uint32_t>(std::stoul(digits, nullptr, hex ? 16 : 10));
  } else {
    const auto it = named.find(std::string(name));
    if (it == named.end()) return 0;
    cp = it->second;
  }
  if (cp != 0) append_utf8(out, cp);
  return semi - i + 1;
}

}  // namespace

std::string normalize_paragraph(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_length(text, i);
    if (n == 0) {  // invalid byte: dropped
      ++i;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool nbsp = n == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) == 0xA0;
    if (n == 1 && (std::isspace(c) || c < 0x20 || c == 0x7F)) {
      space = !out.empty();
    } else if (nbsp) {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      space = false;
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

bool is_prose(std::string_view p, int min_words) {
  if (p.empty()) return false;
  size_t good = 0, words = 0;
  bool in_word = false;
  for (const char ch : p) {
    const unsigned char c = static_cast<unsigned char>(ch);
    const bool letter = std::isalpha(c) != 0;
    if (letter || c == ' ') ++good;
    if (letter && !in_word) ++words;
    in_word = letter || (in_word && (c == '\'' || c == '-'));
  }
  return static_cast<int>(words) >= min_words && good * 100 >= p.size() * 85;
}

std::vector<std::string> html_to_paragraphs(std::string_view html) {
  static const char* kBlock[] = {"p",  "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
                                 "td", "th",  "dt", "dd", "table", "ul", "ol", "dl", "section", "blockquote",
                                 "title", "hr", "figure", "caption"};
  static const char* kSkip[] = {"head", "script", "style", "pre", "code"};  // content dropped entirely
  std::vector<std::string> out;
  std::string cur;
  size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '<') {
      if (html.compare(i, 4, "<!--") == 0) {  // comment
        const size_t e = html.find("-->", i + 4);
        i = e == std::string_view::npos ? html.size() : e + 3;
        continue;
      }
      const size_t e = html.find('>', i);
      if (e == std::string_view::npos) break;
      std::string_view tag = html.substr(i + 1, e - i - 1);
      const bool closing = !tag.empty() && tag[0] == '/';
      if (closing) tag.remove_prefix(1);
      size_t k = 0;
      while (k < tag.size() && (std::isalnum(static_cast<unsigned char>(tag[k])))) ++k;
      const std::string name = lower(tag.substr(0, k));
      i = e + 1;
      if (!closing && std::find(std::begin(kSkip), std::end(kSkip), name) != std::end(kSkip)) {
        const std::string end_tag = "</" + name;
        size_t j = i;
        while (j < html.size()) {  // case-insensitive search for the closing tag
          j = html.find("</", j);
          if (j == std::string_view::npos || lower(html.substr(j, end_tag.size())) == end_tag) break;
          j += 2;
        }
        if (j == std::string_view::npos) {
          i = html.size();
        } else {
          const size_t close = html.find('>', j);
          i = close == std::string_view::npos ? html.size() : close + 1;
        }
        if (name != "code") {  // inline code stays inside its paragraph as a gap; blocks end it
          push_paragraph(out, cur);
          cur.clear();
        } else {
          cur += ' ';
        }
        continue;
      }
      if (std::find(std::begin(kBlock), std::end(kBlock), name) != std::end(kBlock)) {
        push_paragraph(out, cur);
        cur.clear();
      }
      continue;
    }
    if (c == '&') {
      const size_t n = decode_entity(html, i, cur);
      if (n > 0) {
        i += n;
        continue;
      }
    }
    cur += c;
    ++i;
  }
  push_paragraph(out, cur);
  return out;
}

namespace {

// Reduces POD formatting codes (perlpod: X<...>, X<< ... >>, nested) to their text.
std::string pod_inline(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    // Codes may follow a letter directly ("tagE<gt>"), so no word-boundary test.
    const bool code = i + 1 < s.size() && std::isupper(static_cast<unsigned char>(s[i])) && s[i + 1] == '<';
    if (!code) {
      out += s[i++];
      continue;
    }
    const char kind = s[i];
    size_t open = 0;
    size_t j = i + 1;
    while (j < s.size() && s[j] == '<') ++open, ++j;
    std::string_view body;
    size_t end = 0;
    if (open == 1) {  // single brackets nest: find the matching '>'
      int depth = 1;
      size_t k = j;
      for (; k < s.size() && depth > 0; ++k) {
        if (s[k] == '<' && k > 0 && std::isupper(static_cast<unsigned char>(s[k - 1]))) ++depth;
        else if (s[k] == '>') --depth;
      }
      if (depth != 0) {  // unbalanced: keep the text as it is
        out += s[i++];
        continue;
      }
      body = s.substr(j, k - 1 - j);
      end = k;
    } else {  // X<< text >>: closed by a run of as many '>' after white space
      const std::string closer = " " + std::string(open, '>');
      const size_t k = s.find(closer, j);
      if (k == std::string_view::npos) {
        out += s[i++];
        continue;
      }
      body = s.substr(j, k - j);
      end = k + closer.size();
    }
    std::string inner = pod_inline(body);
    if (kind == 'E') {
      static const std::map<std::string, std::string> esc = {{"lt", "<"}, {"gt", ">"}, {"verbar", "|"}, {"sol", "/"}};
      const auto it = esc.find(std::string(body));
      inner = it != esc.end() ? it->second : "";
    } else if (kind == 'L') {  // L<text|target>: the text; L<target>: the target's name
      const size_t bar = inner.find('|');
      if (bar != std::string::npos) inner = inner.substr(0, bar);
      else if (const size_t q = inner.find('"'); q != std::string::npos && inner.rfind('"') > q)
        inner = inner.substr(q + 1, inner.rfind('"') - q - 1);
    } else if (kind == 'Z' || kind == 'X') {
      inner.clear();
    }
    out += inner;
    i = end;
  }
  return out;
}

// Splits text into blank-line separated blocks.
std::vector<std::string_view> blocks(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  bool blank_run = true;  // at start of a block
  size_t line = 0;
  while (line <= text.size()) {
    size_t e = text.find('\n', line);
    if (e == std::string_view::npos) e = text.size();
    const std::string_view l = text.substr(line, e - line);
    const bool blank = l.find_first_not_of(" \t\r") == std::string_view::npos;
    if (blank) {
      if (!blank_run) out.push_back(text.substr(start, line - start));
      blank_run = true;
    } else if (blank_run) {
      start = line;
      blank_run = false;
    }
    line = e + 1;
  }
  if (!blank_run) out.push_back(text.substr(start));
  return out;
}

}  // namespace

std::vector<std::string> pod_to_paragraphs(std::string_view pod) {
  std::vector<std::string> out;
  bool in_pod = true, in_begin = false;  // a .pod file is POD from its first line; =cut leaves it
  for (const std::string_view b : blocks(pod)) {
    if (b[0] == '=') {
      const size_t sp = b.find_first_of(" \t\n");
      const std::string_view cmd = b.substr(1, sp == std::string_view::npos ? b.size() - 1 : sp - 1);
      in_pod = cmd != "cut";
      if (cmd == "begin") in_begin = true;
      if (cmd == "end") in_begin = false;
      continue;  // headings and item labels are not sentences
    }
    if (!in_pod) continue;
    if (in_begin || b[0] == ' ' || b[0] == '\t') continue;  // =begin blocks, verbatim (code) paragraphs
    push_paragraph(out, pod_inline(b));
  }
  return out;
}

std::vector<std::string> kjv_chapters(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  size_t line = 0;
  while (line < text.size()) {
    size_t e = text.find('\n', line);
    if (e == std::string_view::npos) e = text.size();
    std::string_view l = text.substr(line, e - line);
    line = e + 1;
    const size_t first = l.find_first_not_of(' ');
    if (first == std::string_view::npos) continue;
    if (first == 0) {  // "Genesis 1": a new chapter
      push_paragraph(out, cur);
      cur.clear();
      continue;
    }
    l.remove_prefix(first);
    size_t k = 0;
    while (k < l.size() && std::isdigit(static_cast<unsigned char>(l[k]))) ++k;
    if (k == 0 || k >= l.size() || l[k] != ' ') continue;  // not a verse line
    if (!cur.empty()) cur += ' ';
    cur.append(l.substr(k + 1));
  }
  push_paragraph(out, cur);
  return out;
}

std::vector<std::string> split_fortunes(std::string_view file) {
  std::vector<std::string> out;
  std::string cur;
  size_t line = 0;
  while (line < file.size()) {
    size_t e = file.find('\n', line);
    if (e == std::string_view::npos) e = file.size();
    const std::string_view l = file.substr(line, e - line);
    line = e + 1;
    if (l == "%") {
      push_paragraph(out, cur);
      cur.clear();
    } else {
      cur.append(l);
      cur += '\n';
    }
  }
  push_paragraph(out, cur);
  return out;
}

std::vector<std::string> text_paragraphs(std::string_view text) {
  std::vector<std::string> out;
  for (const std::string_view b : blocks(text)) push_paragraph(out, b);
  return out;
}

}  // namespace ptq
