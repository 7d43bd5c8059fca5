// Turning the markup of the Debian-packaged corpora (train/corpus.h) into plain English paragraphs. ptq's own cleaners,
// so the corpus that trains the default model is reproducible from the packages alone:
//   html_to_paragraphs  debian-handbook, jargon.html: drop head/script/style, block tags end paragraphs, entities decoded
//   pod_to_paragraphs   perl-doc .pod: prose paragraphs only (command lines and verbatim code blocks dropped),
//                       formatting codes B<..> C<<..>> L<text|target> E<lt> reduced to their text
//   kjv_chapters        `bible -l0` output: "Book N" headers start a chapter, "  v text" lines are verses
//   split_fortunes      a fortune file: cookies separated by lines holding only "%"
//   text_paragraphs     wrapped plain text (jargon.txt): paragraphs separated by blank lines
// is_prose() then keeps paragraphs that read as English sentences rather than tables, code or ASCII art.
// Every paragraph is returned normalised: valid UTF-8 (invalid bytes dropped), control characters removed, runs of
// white space collapsed to one space, trimmed; empty paragraphs are not returned.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ptq {

std::vector<std::string> html_to_paragraphs(std::string_view html);
std::vector<std::string> pod_to_paragraphs(std::string_view pod);
// One string per chapter, its verses joined by single spaces (verse numbers removed).
std::vector<std::string> kjv_chapters(std::string_view bible_output);
std::vector<std::string> split_fortunes(std::string_view file);
std::vector<std::string> text_paragraphs(std::string_view text);

// At least `min_words` words and at least 75% of the bytes letters or spaces (box drawing, code and tables fail).
bool is_prose(std::string_view paragraph, int min_words = 4);

// The normalisation above, on one paragraph ("" when nothing printable is left).
std::string normalize_paragraph(std::string_view text);

}  // namespace ptq
