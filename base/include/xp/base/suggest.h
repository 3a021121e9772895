#pragma once
// "Did you mean" for names a user typed: plugin names, parameter names, config keys.
#include <string>
#include <vector>

namespace xp {

size_t edit_distance(const std::string& a, const std::string& b);  // optimal string alignment
// Closest candidates, best first, at most `limit`; empty when nothing is close enough.
std::vector<std::string> closest_names(const std::string& name, const std::vector<std::string>& candidates,
                                       size_t limit = 3);
// "; did you mean 'a' or 'b'?" to append to a message, or "" when nothing is close.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);
bool glob_match(const std::string& pattern, const std::string& text);

}  // namespace xp
