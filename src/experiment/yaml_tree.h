// Generic operations on yaml-cpp trees that configurations and matrices share: `--set key.path=value` overrides,
// setting a dotted path, deep copies (yaml-cpp nodes are shared handles), UTF-8 checks with the key path in the
// message, and the conversion to JSON (LLMC-style scalars: True/False, integers, floats; a quoted scalar stays a
// string).
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include <string>

namespace ptq {

// Applies "a.b.c=value" (value parsed as YAML) to `root` (set_yaml_path). Throws naming the override when malformed.
void apply_override(YAML::Node& root, const std::string& assignment);
// Sets the node at dotted `path` (creating maps on the way) to a fresh copy of `value`: the old node is removed
// first, so a key that aliased another (`seed: *seed`) is changed alone. `where` prefixes error messages.
void set_yaml_path(YAML::Node& root, const std::string& path, const YAML::Node& value, const std::string& where);
// A deep copy with fresh nodes (yaml-cpp nodes are shared handles; aliases share one node). Scalar tags are kept.
YAML::Node yaml_deep_copy(const YAML::Node& n);

// Throws a user error naming `file` and the key path when a key or value of `n` is not valid UTF-8.
void check_yaml_utf8(const YAML::Node& n, const std::string& file, const std::string& path = "");

// The JSON form of `n` (null, object, array, or a scalar typed as above).
nlohmann::json yaml_to_json(const YAML::Node& n);

}  // namespace ptq
