// Time and peak-memory estimates for matrix cells before they run (`ptq run MATRIX --dry-run`), from the finished
// runs already in the store (any matrix): the mean total time and the largest peak host memory of runs with the same
// method, scheme, model, calibration size and method parameters; failing that, runs of the same method on the same
// model, scaled by the ratio of calibration tokens (the quantization cost grows with them). No estimate without
// either: the first run of a method on a model is the measurement.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace ptq {

struct CellEstimate {
  double seconds = 0;
  int64_t peak_bytes = 0;  // 0 when no matching run measured memory
  int runs = 0;            // finished runs the estimate comes from
  bool scaled = false;     // from the coarse match, scaled by calibration tokens
};

class CellEstimator {
 public:
  explicit CellEstimator(const std::vector<RunRecord>& finished);
  // config: a resolved configuration (RunConfig::to_json()).
  std::optional<CellEstimate> estimate(const nlohmann::json& config) const;

 private:
  struct Sample {
    double seconds;
    int64_t peak;
    double calib_tokens;
  };
  std::map<std::string, std::vector<Sample>> exact_, coarse_;
};

}  // namespace ptq
