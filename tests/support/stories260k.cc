#include "support/stories260k.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>

#include "data/eval_text.h"
#include "support/test_data.h"

namespace ptq::test {

const nlohmann::json& stories_reference() {
  static const nlohmann::json j = [] {
    std::ifstream in(data_path("fixtures/stories260K_reference.json"));
    return nlohmann::json::parse(in);
  }();
  return j;
}

std::string stories_path(const std::string& form) {
  if (form == "hf") return data_path("models/stories260K-hf");
  if (form == "llama2c") return data_path("models/stories260K/stories260K.bin");
  if (form == "gguf_v3") return data_path("models/stories260K/stories260K-f32.v3.gguf");
  return data_path("models/stories260K/tinyllamas-stories-260k-f32.gguf");
}

LoadedModel load_stories(const std::string& form) {
  return load_model(stories_path(form), form == "llama2c" ? data_path("models/stories260K/tok512.bin") : "");
}

std::vector<at::Tensor> tinystories_windows(const Tokenizer& tok, int64_t n, int64_t len, int64_t first, int64_t last) {
  EvalTextOptions o;
  o.first_story = first;
  o.last_story = last;
  const auto ids = tok.encode(load_eval_text("tinystories", o).text, false);
  EXPECT_GE(static_cast<int64_t>(ids.size()), n * len);
  at::Tensor all = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong);
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(all.narrow(0, i * len, len).unsqueeze(0));
  return out;
}

const std::vector<int32_t>& stories_eval_ids() {
  static const std::vector<int32_t> ids = [] {
    LoadedModel m = load_stories("hf");
    EvalTextOptions eo;
    eo.first_story = 0;
    eo.last_story = 499;
    return perplexity_tokens(*m.tokenizer, load_eval_text("tinystories", eo).text, false);
  }();
  return ids;
}

PerplexityOptions stories_eval_options() {
  PerplexityOptions o;
  o.seq_len = 256;
  o.max_windows = 8;
  return o;
}

}  // namespace ptq::test
