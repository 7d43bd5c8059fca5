#include "store/run_import.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/error.h"
#include "core/sha256.h"

namespace ptq {

namespace {

struct Line {
  std::string file;
  int64_t number = 0;
  nlohmann::json record;
};

std::string value_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

nlohmann::json special_of(const nlohmann::json& record) {
  const auto& c = record["config"];
  return c.contains("special") && c["special"].is_object() ? c["special"] : nlohmann::json::object();
}

}  // namespace

ImportStats import_run_records(const std::vector<std::string>& jsonl_files, const std::string& matrix, Store& store) {
  PTQ_CHECK(!matrix.empty(), "a matrix name is required to import run records");
  PTQ_CHECK(!jsonl_files.empty(), "no run record files given");
  std::vector<Line> lines;
  for (const auto& file : jsonl_files) {
    PTQ_CHECK(std::filesystem::is_regular_file(file), "{}: no such run record file", file);
    std::ifstream in(file, std::ios::binary);
    PTQ_CHECK(in.good(), "{}: cannot read", file);
    std::string text;
    for (int64_t n = 1; std::getline(in, text); ++n) {
      if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
      Line l{file, n, {}};
      try {
        l.record = nlohmann::json::parse(text);
      } catch (const nlohmann::json::exception& e) {
        PTQ_FAIL("{}: line {}: not JSON: {}", file, n, e.what());
      }
      PTQ_CHECK(l.record.is_object() && l.record.contains("method") && l.record["method"].is_string() &&
                    l.record.contains("config") && l.record["config"].is_object(),
                "{}: line {}: not a `ptq run --json` record (needs method and config)", file, n);
      PTQ_CHECK(l.record.contains("quant") && l.record["quant"].is_object() && l.record["quant"].contains("scheme") &&
                    l.record["quant"]["scheme"].is_string(),
                "{}: line {}: quant.scheme missing", file, n);
      lines.push_back(std::move(l));
    }
  }
  PTQ_CHECK(!lines.empty(), "{}: no run records", jsonl_files.front());

  // The special keys that tell a method's records apart: those whose value (or absence) differs among them.
  std::map<std::string, std::set<std::string>> varying;  // method -> keys
  {
    std::map<std::string, std::vector<const nlohmann::json*>> by_method;
    for (const auto& l : lines) by_method[l.record["method"].get<std::string>()].push_back(&l.record);
    for (const auto& [method, records] : by_method) {
      std::set<std::string> keys;
      for (const auto* r : records) {
        const nlohmann::json special = special_of(*r);
        for (const auto& [k, v] : special.items()) keys.insert(k);
      }
      for (const auto& k : keys) {
        std::set<std::pair<bool, std::string>> values;  // (present, value)
        for (const auto* r : records) {
          const nlohmann::json special = special_of(*r);
          values.insert({special.contains(k), special.contains(k) ? value_text(special[k]) : std::string()});
        }
        if (values.size() > 1) varying[method].insert(k);
      }
    }
  }

  ImportStats stats;
  std::set<std::string> keys_seen;
  for (const auto& l : lines) {
    const nlohmann::json& j = l.record;
    const std::string method = j["method"].get<std::string>();
    std::string label = method;
    const nlohmann::json special = special_of(j);
    for (const auto& k : varying[method])
      label += fmt::format(" {}:{}", k, special.contains(k) ? value_text(special[k]) : std::string("default"));
    const nlohmann::json& calib = j["config"].contains("calib") ? j["config"]["calib"] : nlohmann::json();
    const std::string seed =
        calib.is_object() && calib.contains("seed") ? fmt::format("s{}", value_text(calib["seed"])) : std::string("none");
    const std::string bits = j["quant"]["scheme"].get<std::string>();
    for (const auto& v : {label, bits, seed})
      PTQ_CHECK(v.find_first_of(",=") == std::string::npos, "{}: line {}: axis value '{}' contains ',' or '='",
                l.file, l.number, v);

    nlohmann::json keyed = j["config"];
    keyed.erase("source");
    const std::string run_key = sha256_hex(matrix + "\n" + keyed.dump());
    if (!keys_seen.insert(run_key).second || store.is_finished(run_key)) {
      ++stats.skipped;
      continue;
    }
    RunRecord rec = with_context(fmt::format("{}: line {}", l.file, l.number),
                                 [&] { return run_record_from_json(j, matrix, run_key); });
    rec.started_at.clear();
    rec.finished_at.clear();
    nlohmann::json axes = nlohmann::json::array({{"method", label}, {"bits", bits}, {"seed", seed}});
    rec.config["matrix_cell"] = {{"label", fmt::format("method={},bits={},seed={}", label, bits, seed)}, {"axes", axes}};
    rec.config["imported_from"] = {{"file", std::filesystem::path(l.file).filename().string()}, {"line", l.number}};
    store.record_run(rec);
    ++stats.added;
  }
  return stats;
}

}  // namespace ptq
