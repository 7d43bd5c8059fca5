// "Did you mean ...?" for misspelt names (config keys, method ids, options): the known name closest to what was typed,
// by case-insensitive Damerau-Levenshtein distance (optimal string alignment: insertions, deletions, substitutions and
// adjacent transpositions each cost 1), when it is close enough to be a plausible typo.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ptq {

// Optimal-string-alignment distance between a and b, ASCII case folded.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `typed` if its distance is at most max(1, min(3, |typed| / 3)) and it is the only one at
// that distance; "" otherwise (no suggestion beats a wrong one).
std::string closest_name(std::string_view typed, const std::vector<std::string>& candidates);

// "; did you mean 'x'?" for closest_name's answer, or "" when there is none; appended at the end of a message.
std::string did_you_mean(std::string_view typed, const std::vector<std::string>& candidates);

}  // namespace ptq
