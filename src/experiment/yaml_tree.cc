#include "experiment/yaml_tree.h"

#include <fmt/format.h>

#include "core/error.h"
#include "data/utf8_check.h"

namespace ptq {

nlohmann::json yaml_to_json(const YAML::Node& n) {
  if (!n || n.IsNull()) return nullptr;
  if (n.IsMap()) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& kv : n) j[kv.first.as<std::string>()] = yaml_to_json(kv.second);
    return j;
  }
  if (n.IsSequence()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& v : n) j.push_back(yaml_to_json(v));
    return j;
  }
  const std::string s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted
  if (s == "true" || s == "True") return true;
  if (s == "false" || s == "False") return false;
  try {
    size_t pos = 0;
    const long long v = std::stoll(s, &pos);
    if (pos == s.size()) return v;
  } catch (...) {
  }
  try {
    size_t pos = 0;
    const double v = std::stod(s, &pos);
    if (pos == s.size()) return v;
  } catch (...) {
  }
  return s;
}

// A deep copy with fresh nodes (yaml-cpp nodes are shared handles, and aliases such as `seed: *seed` share one node:
// assigning through one would change the other). Scalar tags are kept ("!" marks a quoted string).
YAML::Node yaml_deep_copy(const YAML::Node& n) {
  if (!n || n.IsNull()) return YAML::Node(YAML::NodeType::Null);
  if (n.IsScalar()) {
    YAML::Node s(n.Scalar());
    s.SetTag(n.Tag());
    return s;
  }
  if (n.IsSequence()) {
    YAML::Node s(YAML::NodeType::Sequence);
    for (const auto& v : n) s.push_back(yaml_deep_copy(v));
    return s;
  }
  YAML::Node m(YAML::NodeType::Map);
  for (const auto& kv : n) m[kv.first.as<std::string>()] = yaml_deep_copy(kv.second);
  return m;
}

namespace {
std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> keys;
  for (size_t start = 0;;) {
    const size_t dot = path.find('.', start);
    keys.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return keys;
}
}  // namespace

// apply_override's semantics with a YAML value: walk the dotted path (creating maps), replace the last key's node.
void set_yaml_path(YAML::Node& root, const std::string& path, const YAML::Node& value, const std::string& where) {
  const auto keys = split_path(path);
  for (const auto& k : keys) PTQ_CHECK(!k.empty(), "{}: '{}': empty key in the path", where, path);
  std::vector<YAML::Node> chain = {root};
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    YAML::Node child = chain.back()[keys[i]];
    if (!child.IsMap()) {
      PTQ_CHECK(!child.IsDefined() || child.IsNull(), "{}: '{}': '{}' is not a mapping", where, path, keys[i]);
      chain.back()[keys[i]] = YAML::Node(YAML::NodeType::Map);
      child = chain.back()[keys[i]];
    }
    chain.push_back(child);
  }
  chain.back().remove(keys.back());  // a fresh node, not one shared with an alias
  chain.back()[keys.back()] = yaml_deep_copy(value);
}

void apply_override(YAML::Node& root, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  PTQ_CHECK(eq != std::string::npos && eq > 0, "--set '{}': expected key.path=value", assignment);
  const std::string path = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    PTQ_FAIL("--set '{}': the value is not valid YAML: {}", assignment, e.what());
  }
  set_yaml_path(root, path, parsed, fmt::format("--set '{}'", assignment));
}

void check_yaml_utf8(const YAML::Node& n, const std::string& file, const std::string& path) {
  if (!n || n.IsNull()) return;
  if (n.IsScalar()) {
    const auto bad = first_invalid_utf8(n.Scalar());
    PTQ_CHECK(!bad, "{}: {}: not valid UTF-8 at byte {} of the value (configuration files must be UTF-8)", file,
              path.empty() ? "(top level)" : path, bad.value_or(0));
    return;
  }
  if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) check_yaml_utf8(n[i], file, fmt::format("{}[{}]", path, i));
    return;
  }
  for (const auto& kv : n) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
    check_yaml_utf8(kv.first, file, path.empty() ? key : path + "." + key);
    check_yaml_utf8(kv.second, file, path.empty() ? key : path + "." + key);
  }
}

}  // namespace ptq
