// Escaping of strings from the store (labels, protocols, configs, error messages) for the report formats: a method
// label like "a<b&c" must print as text, never become markup.
#pragma once

#include <string>

namespace ptq {

// &, <, >, " and ' as entities: safe in XML/HTML text and in quoted attribute values (SVG and HTML).
std::string xml_escape(const std::string& s);
// LaTeX special characters as commands; "±" as $\pm$ (the one non-ASCII character ptq writes into table text).
std::string latex_escape(const std::string& s);

}  // namespace ptq
