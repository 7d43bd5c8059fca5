// Bad input, table-driven, through the real ptq binary: configurations, experiment matrices, checkpoints (safetensors,
// GGUF, llama2.c), tokenizers, datasets and real-quant exports, each broken one way. Every case must end with exit
// code 2 and exactly one line on standard error, "ptq <command>: error: ...", naming the file and the key or tensor
// at fault; when a results store is involved (--db) it must hold no run afterwards (matrix inputs are checked before
// the store is opened, experiment/input_check.h). Misspelt names get the closest known one suggested.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "model/gguf_file.h"
#include "store/store.h"
#include "support/gguf_writer.h"
#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;

// A small, valid run configuration on stories260K (block YAML, so cases can replace single lines).
std::string good_config(const std::string& model) {
  return fmt::format(R"(base:
    seed: 0
model:
    type: Llama
    path: {}
    torch_dtype: auto
calib:
    name: tinystories
    download: False
    n_samples: 4
    bs: 1
    seq_len: 32
    preproc: random_windows
    seed: 0
    first_doc: 500
    last_doc: 999
eval:
    eval_pos: [pretrain, fake_quant]
    name: tinystories
    download: False
    seq_len: 64
    bs: 1
    max_windows: 2
    first_doc: 0
    last_doc: 499
quant:
    method: GPTQ
    weight:
        bit: 4
        symmetric: False
        granularity: per_group
        group_size: 32
    special:
        actorder: True
        percdamp: 0.01
    quant_out: True
save:
    save_trans: False
    save_fake: False
    save_path: ./save
)",
                     model);
}

// Everything a case builds lives in one scratch folder.
struct Scratch {
  test::TempDir dir;
  std::string file(const std::string& name) const { return dir.file(name); }
  std::string db() const { return dir.file("store/ptq.db"); }

  // A copy of the stories260K HF checkpoint that a case may break.
  std::string model_copy() const {
    const std::string m = dir.file("model");
    if (!fs::exists(m)) fs::copy(test::data_path("models/stories260K-hf"), m);
    for (const auto& e : fs::directory_iterator(m))
      fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
    return m;
  }
  // cfg.yml: the good configuration on `model` with `from` replaced by `to` (from must occur).
  std::string config(const std::string& model, const std::string& from = "", const std::string& to = "") const {
    std::string text = good_config(model);
    if (!from.empty()) {
      const size_t at = text.find(from);
      EXPECT_NE(at, std::string::npos) << from;
      if (at != std::string::npos) text.replace(at, from.size(), to);
    }
    test::write_file(file("cfg.yml"), text);
    return file("cfg.yml");
  }
  // m.yaml: a one-cell matrix over cfg.yml (the good configuration on `model`) with the cell's `set` mapping.
  std::string matrix(const std::string& model, const std::string& set, const std::string& extra = "") const {
    config(model);
    test::write_file(file("m.yaml"), fmt::format("name: bad\nbase: {}\n{}axes:\n  cell:\n    - {{name: a, set: {}}}\n",
                                                 file("cfg.yml"), extra, set));
    return file("m.yaml");
  }
  std::string run_matrix(const std::string& model, const std::string& set) const {
    return fmt::format("run {} --db {}", matrix(model, set), db());
  }
};

std::string stories() { return test::data_path("models/stories260K-hf"); }

// Rewrites a safetensors file's JSON header through `edit` (order kept; the data bytes stay as they are).
void edit_safetensors_header(const std::string& path, const std::function<void(nlohmann::ordered_json&)>& edit) {
  const std::string bytes = test::read_file(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  nlohmann::ordered_json h = nlohmann::ordered_json::parse(bytes.substr(8, n));
  edit(h);
  std::string text = h.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string len(8, '\0');
  for (int i = 0; i < 8; ++i) len[static_cast<size_t>(i)] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
  test::write_file(path, len + text + bytes.substr(8 + n));
}

void edit_json_file(const std::string& path, const std::function<void(nlohmann::ordered_json&)>& edit) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(test::read_file(path));
  edit(j);
  test::write_file(path, j.dump(2));
}

void truncate_file(const std::string& path, size_t drop) {
  const std::string bytes = test::read_file(path);
  test::write_file(path, bytes.substr(0, bytes.size() - drop));
}

// stories260K's GGUF rewritten with `edit` applied to its metadata and tensors (stored bytes; `type` a ggml id).
void rewrite_stories_gguf(const std::string& out,
                          const std::function<void(std::vector<std::pair<std::string, nlohmann::json>>&,
                                                   std::vector<test::GgufRawTensor>&)>& edit) {
  const GgufFile src = GgufFile::open(test::data_path("models/stories260K/stories260K-f32.v3.gguf"));
  std::vector<std::pair<std::string, nlohmann::json>> meta;
  for (auto it = src.metadata().begin(); it != src.metadata().end(); ++it) meta.emplace_back(it.key(), it.value());
  std::vector<test::GgufRawTensor> tensors;
  for (const auto& t : src.tensors()) {
    const at::Tensor v = src.load(t.name).contiguous();
    tensors.push_back({t.name, 0, t.shape, std::string(static_cast<const char*>(v.data_ptr()), v.numel() * 4)});
  }
  edit(meta, tensors);
  test::write_gguf_raw(out, 3, meta, tensors);
}

// Replaces tensor `name` by `n_bytes` bytes of ggml type `type` (same shape) and moves it to the end of the file.
void quantize_tensor_bytes(std::vector<test::GgufRawTensor>& tensors, const std::string& name, uint32_t type,
                           size_t n_bytes) {
  auto it = std::find_if(tensors.begin(), tensors.end(), [&](const auto& t) { return t.name == name; });
  test::GgufRawTensor t = *it;
  tensors.erase(it);
  t.ggml_type = type;
  t.bytes.assign(n_bytes, '\x21');
  tensors.push_back(t);
}

// An eval command on a model folder (reads the data first, then the model).
std::string eval_on(const std::string& model, const std::string& extra = "") {
  return fmt::format("eval --model {} --dataset tinystories --seq-len 64 --max-windows 1 {}", model, extra);
}

struct Case {
  std::string name;
  // Builds the broken input in the scratch folder and returns the ptq arguments.
  std::function<std::string(const Scratch&)> make;
  // Substrings the error line must contain; "$D" stands for the scratch folder (the file at fault lives there).
  std::vector<std::string> expect;
};

std::vector<Case> cases() {
  std::vector<Case> c;
  auto add = [&](std::string name, std::function<std::string(const Scratch&)> make, std::vector<std::string> expect) {
    c.push_back({std::move(name), std::move(make), std::move(expect)});
  };
  auto cfg_case = [&](std::string name, std::string from, std::string to, std::vector<std::string> expect) {
    add(
        std::move(name), [from, to](const Scratch& s) { return "run --config " + s.config(stories(), from, to); },
        [&] {
          expect.insert(expect.begin(), "$D/cfg.yml");
          return expect;
        }());
  };

  // ---- run configurations -------------------------------------------------------------------------------------
  cfg_case("config_unknown_key", "        bit: 4\n", "        bitz: 4\n",
           {"quant.weight.bitz: unknown key", "did you mean 'bit'?"});
  cfg_case("config_wrong_type", "        bit: 4\n", "        bit: four\n",
           {"quant.weight.bit", "cannot read 'four' as an integer"});
  cfg_case("config_bits_9", "        bit: 4\n", "        bit: 9\n", {"quant.weight: ", "bits must be in 2..8, got 9"});
  cfg_case("config_group_0", "group_size: 32", "group_size: 0",
           {"quant.weight: ", "group size must be positive, got 0"});
  cfg_case("config_method_misspelt", "method: GPTQ", "method: GTPQ",
           {"quant.method", "unknown method 'GTPQ'", "did you mean 'gptq'?"});
  cfg_case("config_method_case", "method: GPTQ", "method: Omniquant", {"quant.method", "did you mean 'omniquant'?"});
  cfg_case("config_section_misspelt", "quant:\n", "quantt:\n", {"quantt: unknown key", "did you mean 'quant'?"});
  cfg_case("config_no_model_path", "    path: ", "    pth: ", {"model.pth: unknown key", "did you mean 'path'?"});
  cfg_case("config_not_yaml", "    seed: 0\n", "    seed: [0\n", {"not valid YAML"});
  cfg_case("config_calib_n_samples", "n_samples: 4", "n_samples: 0", {"calib.n_samples must be positive"});
  cfg_case("config_eval_seq_len", "seq_len: 64", "seq_len: 1", {"eval.seq_len must be >= 2"});
  cfg_case("config_eval_pos", "[pretrain, fake_quant]", "[pretrain, fakequant]", {"eval.eval_pos", "'fakequant'"});
  cfg_case("config_dtype", "torch_dtype: auto", "torch_dtype: float64", {"model.torch_dtype", "'float64'"});
  cfg_case("config_granularity", "per_group", "per_grop", {"quant.weight.granularity", "per_grop"});
  cfg_case("config_param_misspelt", "percdamp: 0.01", "percdampp: 0.01",
           {"quant.special", "unknown parameter 'percdampp'", "did you mean 'percdamp'?"});
  cfg_case("config_param_type", "percdamp: 0.01", "percdamp: high", {"quant.special", "percdamp", "expected a number"});
  cfg_case("config_save_without_path", "    save_fake: False\n    save_path: ./save\n", "    save_fake: True\n",
           {"save.save_path is required"});
  cfg_case("config_unsupported_export", "    save_fake: False\n", "    save_fake: False\n    save_vllm: True\n",
           {"save.save_vllm", "not supported"});
  cfg_case("config_offload", "    save_path: ./save\n", "    save_path: ./save\nptq:\n    offload: disk\n",
           {"ptq.offload: 'disk' is not one of auto"});
  cfg_case("config_measure_errors", "    save_path: ./save\n", "    save_path: ./save\nptq:\n    measure_errors: sometimes\n",
           {"ptq.measure_errors: cannot read 'sometimes'"});
  cfg_case("config_not_utf8", "type: Llama", "type: Llam\xE9", {"model.type", "not valid UTF-8 at byte 4"});
  add("config_missing_model", [](const Scratch& s) { return "run --config " + s.config(s.file("no_model")); },
      {"$D/no_model", "no such file or directory"});
  add("config_save_path_exists",
      [](const Scratch& s) {
        fs::create_directories(s.file("taken"));
        return "run --config " + s.config(stories(), "    save_fake: False\n    save_path: ./save\n",
                                          "    save_fake: True\n    save_path: " + s.file("taken") + "\n");
      },
      {"$D/cfg.yml", "save.save_path", "$D/taken", "already exists"});
  add("config_set_malformed",
      [](const Scratch& s) { return "run --config " + s.config(stories()) + " --set quant.weight.bit"; },
      {"--set 'quant.weight.bit'", "expected key.path=value"});

  // ---- experiment matrices (store given: no run may be recorded) -------------------------------------------------
  add("matrix_unknown_key",
      [](const Scratch& s) {
        s.matrix(stories(), "{}");
        test::write_file(s.file("m.yaml"), "axis: 1\n" + test::read_file(s.file("m.yaml")));
        return fmt::format("run {} --db {}", s.file("m.yaml"), s.db());
      },
      {"$D/m.yaml", "axis: unknown key", "did you mean 'axes'?"});
  add("matrix_base_missing",
      [](const Scratch& s) {
        test::write_file(s.file("m.yaml"), "base: " + s.file("missing.yml") + "\naxes: {a: [{name: x, set: {}}]}\n");
        return fmt::format("run {} --db {}", s.file("m.yaml"), s.db());
      },
      {"$D/m.yaml", "base", "$D/missing.yml"});
  add("matrix_empty_axis",
      [](const Scratch& s) {
        s.config(stories());
        test::write_file(s.file("m.yaml"), "base: " + s.file("cfg.yml") + "\naxes: {bits: []}\n");
        return fmt::format("run {} --db {}", s.file("m.yaml"), s.db());
      },
      {"$D/m.yaml", "axes.bits", "empty axis"});
  add("matrix_duplicate_value",
      [](const Scratch& s) {
        s.config(stories());
        test::write_file(s.file("m.yaml"), "base: " + s.file("cfg.yml") +
                                               "\naxes: {s: [{name: x, set: {calib.seed: 1}}, {name: x, set: {}}]}\n");
        return fmt::format("run {} --db {}", s.file("m.yaml"), s.db());
      },
      {"$D/m.yaml", "axes.s[1].name", "duplicate name 'x'"});
  add("matrix_exclude_unknown_axis",
      [](const Scratch& s) {
        return fmt::format("run {} --db {}", s.matrix(stories(), "{}", "exclude: [{cel: a}]\n"), s.db());
      },
      {"$D/m.yaml", "exclude[0].cel", "no such axis"});
  add("matrix_same_configuration",
      [](const Scratch& s) {
        s.config(stories());
        test::write_file(s.file("m.yaml"), "base: " + s.file("cfg.yml") +
                                               "\naxes: {s: [{name: x, set: {calib.seed: 0}}, {name: y, set: {}}]}\n");
        return fmt::format("run {} --db {}", s.file("m.yaml"), s.db());
      },
      {"$D/m.yaml", "s=x and s=y", "same configuration"});
  add("matrix_too_many_cells",
      [](const Scratch& s) {
        s.config(stories());
        std::string axes;
        for (int a = 0; a < 6; ++a) {
          axes += fmt::format("  a{}:\n", a);
          for (int v = 0; v < 7; ++v) axes += fmt::format("    - {{name: v{}, set: {{calib.seed: {}}}}}\n", v, v);
        }
        test::write_file(s.file("m.yaml"), "base: " + s.file("cfg.yml") + "\naxes:\n" + axes);
        return fmt::format("run {} --db {}", s.file("m.yaml"), s.db());
      },
      {"$D/m.yaml", "axes", "more than 100000 cells"});
  add("matrix_cell_wrong_type", [](const Scratch& s) { return s.run_matrix(stories(), "{calib.seed: one}"); },
      {"$D/m.yaml", "cell=a", "calib.seed", "cannot read 'one'"});
  add("matrix_cell_key_misspelt", [](const Scratch& s) { return s.run_matrix(stories(), "{calib.sed: 1}"); },
      {"$D/m.yaml", "calib.sed: unknown key", "did you mean 'seed'?"});
  add("matrix_cell_method_misspelt", [](const Scratch& s) { return s.run_matrix(stories(), "{quant.method: AWQQ}"); },
      {"$D/m.yaml", "quant.method", "did you mean 'awq'?"});
  add("matrix_missing_model", [](const Scratch& s) { return s.run_matrix(s.file("nope"), "{}"); },
      {"$D/m.yaml [cell=a]", "model.path", "$D/nope", "no such file or directory"});
  add("matrix_missing_eval_data",
      [](const Scratch& s) {
        return s.run_matrix(stories(), fmt::format("{{eval.name: text, eval.path: {}}}", s.file("gone.txt")));
      },
      {"$D/m.yaml [cell=a]", "eval", "$D/gone.txt", "not found"});
  add("matrix_missing_calib_data",
      [](const Scratch& s) {
        return s.run_matrix(stories(), fmt::format("{{calib.name: text, calib.path: {}}}", s.file("gone.txt")));
      },
      {"$D/m.yaml [cell=a]", "calib", "$D/gone.txt", "not found"});
  add("matrix_calib_text_too_short",
      [](const Scratch& s) {
        test::write_file(s.file("short.txt"), "Once upon a time.");
        return s.run_matrix(stories(), fmt::format("{{calib.name: text, calib.path: {}}}", s.file("short.txt")));
      },
      {"$D/m.yaml [cell=a]", "calib", "$D/short.txt", "fewer than the 34 needed"});

  // ---- checkpoints (through a matrix with a store: checked before it opens) -------------------------------------
  add("ckpt_truncated",
      [](const Scratch& s) {
        truncate_file(s.model_copy() + "/model.safetensors", 1000);
        return s.run_matrix(s.file("model"), "{}");
      },
      {"$D/model/model.safetensors", "tensor 'model.layers.4.self_attn.v_proj.weight'", "truncated file"});
  add("ckpt_header_length",
      [](const Scratch& s) {
        std::string b = test::read_file(s.model_copy() + "/model.safetensors");
        b[5] = 0x01;  // header length ~2^40
        test::write_file(s.file("model/model.safetensors"), b);
        return s.run_matrix(s.file("model"), "{}");
      },
      {"$D/model/model.safetensors", "header length"});
  add("ckpt_bad_offsets",
      [](const Scratch& s) {
        edit_safetensors_header(s.model_copy() + "/model.safetensors", [](nlohmann::ordered_json& h) {
          h["model.layers.1.mlp.up_proj.weight"]["data_offsets"][0] = 401148;  // 4 bytes into the previous tensor
        });
        return s.run_matrix(s.file("model"), "{}");
      },
      {"$D/model/model.safetensors", "tensor 'model.layers.1.mlp.up_proj.weight'", "data_offsets"});
  add("ckpt_wrong_dtype",
      [](const Scratch& s) {
        edit_safetensors_header(s.model_copy() + "/model.safetensors",
                                [](nlohmann::ordered_json& h) { h["model.norm.weight"]["dtype"] = "I32"; });
        return s.run_matrix(s.file("model"), "{}");
      },
      {"$D/model/model.safetensors", "tensor 'model.norm.weight'", "dtype I32"});
  add("ckpt_unknown_dtype",
      [](const Scratch& s) {
        edit_safetensors_header(s.model_copy() + "/model.safetensors",
                                [](nlohmann::ordered_json& h) { h["model.norm.weight"]["dtype"] = "F33"; });
        return s.run_matrix(s.file("model"), "{}");
      },
      {"$D/model/model.safetensors", "tensor 'model.norm.weight'", "'F33'"});
  add("ckpt_missing_tensor",
      [](const Scratch& s) {
        edit_safetensors_header(s.model_copy() + "/model.safetensors", [](nlohmann::ordered_json& h) {
          nlohmann::ordered_json out;
          for (auto& [k, v] : h.items())
            out[k == "model.layers.3.mlp.up_proj.weight" ? "model.layers.3.mlp.up_prxj.weight" : k] = v;
          h = out;
        });
        return s.run_matrix(s.file("model"), "{}");
      },
      {"$D/model", "tensor 'model.layers.3.mlp.up_proj.weight' is missing"});
  add("ckpt_config_disagrees",
      [](const Scratch& s) {
        edit_json_file(s.model_copy() + "/config.json",
                       [](nlohmann::ordered_json& j) { j["intermediate_size"] = 128; });
        return s.run_matrix(s.file("model"), "{}");
      },
      {"$D/model/model.safetensors", "tensor 'model.layers.0.mlp.gate_proj.weight'", "[172, 64]",
       "config.json implies [128, 64]"});
  add("ckpt_config_not_json",
      [](const Scratch& s) {
        test::write_file(s.model_copy() + "/config.json", "{\"hidden_size\": 64,");
        return s.run_matrix(s.file("model"), "{}");
      },
      {"$D/model/config.json", "not valid JSON"});
  add("ckpt_config_missing_key",
      [](const Scratch& s) {
        edit_json_file(s.model_copy() + "/config.json",
                       [](nlohmann::ordered_json& j) { j.erase("num_hidden_layers"); });
        return s.run_matrix(s.file("model"), "{}");
      },
      {"$D/model/config.json", "'num_hidden_layers'"});
  add("gguf_truncated",
      [](const Scratch& s) {
        fs::copy_file(test::data_path("models/stories260K/stories260K-f32.v3.gguf"), s.file("m.gguf"));
        fs::permissions(s.file("m.gguf"), fs::perms::owner_write, fs::perm_options::add);
        truncate_file(s.file("m.gguf"), 4096);
        return eval_on(s.file("m.gguf"));
      },
      {"$D/m.gguf", "truncated file"});
  add("gguf_bad_magic",
      [](const Scratch& s) {
        test::write_file(
            s.file("m.gguf"),
            "GGML" + test::read_file(test::data_path("models/stories260K/stories260K-f32.v3.gguf")).substr(4));
        return eval_on(s.file("m.gguf"));
      },
      {"$D/m.gguf", "not a GGUF file"});
  // Quantized GGUF tensors (q_proj of stories260K is [64, 64]: 128 Q4_0 blocks of 18 bytes) and tokenizers.
  add("gguf_unknown_ggml_type",
      [](const Scratch& s) {
        rewrite_stories_gguf(s.file("m.gguf"), [](auto&, auto& t) {
          quantize_tensor_bytes(t, "blk.0.attn_q.weight", 16, 64 * 66);  // IQ2_XXS: not read by ptq
        });
        return eval_on(s.file("m.gguf"));
      },
      {"$D/m.gguf", "'blk.0.attn_q.weight'", "unknown ggml type 16"});
  add("gguf_truncated_quantized_tensor",
      [](const Scratch& s) {
        rewrite_stories_gguf(s.file("m.gguf"),
                             [](auto&, auto& t) { quantize_tensor_bytes(t, "blk.0.attn_q.weight", 2, 128 * 18); });
        truncate_file(s.file("m.gguf"), 100);
        return eval_on(s.file("m.gguf"));
      },
      {"$D/m.gguf", "'blk.0.attn_q.weight'", "truncated file"});
  add("gguf_block_size_mismatch",
      [](const Scratch& s) {
        rewrite_stories_gguf(s.file("m.gguf"),
                             [](auto&, auto& t) { quantize_tensor_bytes(t, "blk.0.attn_q.weight", 12, 16 * 144); });
        return eval_on(s.file("m.gguf"));
      },
      {"$D/m.gguf", "'blk.0.attn_q.weight'", "Q4_K", "block size 256"});
  add("gguf_unknown_pre_tokenizer",
      [](const Scratch& s) {
        rewrite_stories_gguf(s.file("m.gguf"), [](auto& meta, auto&) {
          for (auto& [k, v] : meta)
            if (k == "tokenizer.ggml.model") v = "gpt2";
          meta.emplace_back("tokenizer.ggml.merges", nlohmann::json::array({"a b"}));
          meta.emplace_back("tokenizer.ggml.pre", "deepseek-coder");
        });
        return eval_on(s.file("m.gguf"));
      },
      {"$D/m.gguf", "tokenizer.ggml.pre 'deepseek-coder' is not supported", "smollm"});
  add("llama2c_truncated",
      [](const Scratch& s) {
        test::write_file(s.file("m.bin"),
                         test::read_file(test::data_path("models/stories260K/stories260K.bin")).substr(0, 50000));
        return eval_on(s.file("m.bin"), "--tokenizer " + test::data_path("models/stories260K/tok512.bin"));
      },
      {"$D/m.bin"});

  // ---- tokenizers ---------------------------------------------------------------------------------------------------
  auto with_tokenizer_json = [](const Scratch& s, const std::string& text) {
    test::write_file(s.model_copy() + "/tokenizer.json", text);
    return s.run_matrix(s.file("model"), "{}");
  };
  add("tokenizer_json_malformed", [=](const Scratch& s) { return with_tokenizer_json(s, "{\"model\": {\"type\": "); },
      {"$D/model/tokenizer.json", "malformed JSON"});
  add("tokenizer_json_unknown_merge",
      [=](const Scratch& s) {
        return with_tokenizer_json(
            s, R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a c"]}})");
      },
      {"$D/model/tokenizer.json", "model.merges[0]", "token 'c' is not in model.vocab"});
  add("tokenizer_json_unsupported_model",
      [=](const Scratch& s) { return with_tokenizer_json(s, R"({"model": {"type": "WordPiece", "vocab": {}}})"); },
      {"$D/model/tokenizer.json", "model.type 'WordPiece'"});
  add("tokenizer_json_huge_id",
      [=](const Scratch& s) {
        return with_tokenizer_json(s, R"({"model": {"type": "BPE", "vocab": {"a": 4000000000}}})");
      },
      {"$D/model/tokenizer.json", "model.vocab['a']", "outside"});
  add("tokenizer_too_large",
      [](const Scratch& s) {
        fs::copy_file(test::data_path("tokenizers/llama3/tokenizer.json"), s.model_copy() + "/tokenizer.json");
        return s.run_matrix(s.file("model"), "{}");
      },
      {"$D/model", "larger than the model's embedding (512 rows)"});
  add("tokenizer_model_corrupt",
      [](const Scratch& s) {
        test::write_file(s.model_copy() + "/tokenizer.model", "this is not a sentencepiece model");
        return s.run_matrix(s.file("model"), "{}");
      },
      {"$D/model/tokenizer.model"});

  // ---- datasets -----------------------------------------------------------------------------------------------------
  auto eval_text = [](const std::string& file) {
    return fmt::format("eval --model {} --dataset text --data-path {} --seq-len 64", stories(), file);
  };
  add("data_empty",
      [=](const Scratch& s) {
        test::write_file(s.file("empty.txt"), "");
        return eval_text(s.file("empty.txt"));
      },
      {"$D/empty.txt", "empty file"});
  add("data_too_short",
      [=](const Scratch& s) {
        test::write_file(s.file("short.txt"), "Once upon a time.");
        return eval_text(s.file("short.txt"));
      },
      {"$D/short.txt", "fewer than one window of seq_len 64"});
  add("data_latin1",
      [=](const Scratch& s) {
        test::write_file(s.file("latin1.txt"), "Once upon a time there was a caf\xE9 by the sea.\n");
        return eval_text(s.file("latin1.txt"));
      },
      {"$D/latin1.txt", "not valid UTF-8 at byte 32", "0xE9"});
  add("data_utf16",
      [=](const Scratch& s) {
        test::write_file(s.file("utf16.txt"), std::string("\xFF\xFEO\0n\0c\0e\0", 10));
        return eval_text(s.file("utf16.txt"));
      },
      {"$D/utf16.txt", "UTF-16 byte-order mark"});
  add("data_jsonl_bad_line",
      [](const Scratch& s) {
        test::write_file(s.file("c4.jsonl"), "{\"text\": \"fine\"}\n{\"text\": broken}\n");
        return fmt::format("eval --model {} --dataset c4 --data-path {} --seq-len 64", stories(), s.file("c4.jsonl"));
      },
      {"$D/c4.jsonl", "line 2", "not JSON"});
  add("data_matrix_latin1_eval",
      [](const Scratch& s) {
        test::write_file(s.file("latin1.txt"), std::string(200, 'a') + "\xE9\n");
        return s.run_matrix(stories(), fmt::format("{{eval.name: text, eval.path: {}}}", s.file("latin1.txt")));
      },
      {"$D/m.yaml [cell=a]", "eval", "$D/latin1.txt", "not valid UTF-8 at byte 200"});

  // ---- real-quant exports (read back: ptq eval / verify-export on the folder)
  // ----------------------------------------
  auto quantized = [](const Scratch& s, const nlohmann::ordered_json& qc) {
    edit_json_file(s.model_copy() + "/config.json", [&](nlohmann::ordered_json& j) { j["quantization_config"] = qc; });
    return eval_on(s.file("model"));
  };
  add("export_awq_bits",
      [=](const Scratch& s) {
        return quantized(s, {{"quant_method", "awq"}, {"bits", 3}, {"group_size", 32}, {"version", "gemm"}});
      },
      {"$D/model", "4-bit", "bits is 3"});
  add("export_unknown_method",
      [=](const Scratch& s) {
        return quantized(s, {{"quant_method", "bnb"}, {"bits", 4}, {"group_size", 32}});
      },
      {"$D/model", "quant_method 'bnb'"});
  add("export_no_qweight",
      [=](const Scratch& s) {
        return quantized(s, {{"quant_method", "gptq"},
                             {"bits", 4},
                             {"group_size", 32},
                             {"desc_act", false},
                             {"sym", true},
                             {"checkpoint_format", "gptq"}});
      },
      {"$D/model", "no tensor '*.qweight'"});
  add("export_awq_3bit_requested",
      [](const Scratch& s) {
        return "run --config " +
               s.config(stories(), "    save_fake: False\n    save_path: ./save\n",
                        "    save_autoawq: True\n    save_path: " + s.file("out") + "\n") +
               " --set quant.weight.bit=3";
      },
      {"$D/cfg.yml", "save", "4"});
  add("export_verify_not_an_export",
      [](const Scratch& s) { return "verify-export " + s.model_copy() + " --reference " + stories(); }, {"$D/model"});
  return c;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class BadInput : public ::testing::TestWithParam<Case> {};

TEST_P(BadInput, ExitsTwoWithOneLineNamingTheFileAndNoRows) {
  const Case& k = GetParam();
  Scratch s;
  const std::string args = k.make(s);
  const test::ProcessResult r = test::run_ptq(args);
  EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out << r.err;
  // One line: "ptq <command>: error: <message>\n".
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  const std::string command = args.substr(0, args.find(' '));
  EXPECT_EQ(r.err.rfind("ptq " + command + ": error: ", 0), 0u) << r.err;
  for (std::string want : k.expect) {
    for (size_t at; (at = want.find("$D")) != std::string::npos;) want.replace(at, 2, s.dir.path());
    EXPECT_NE(r.err.find(want), std::string::npos) << "missing '" << want << "' in: " << r.err;
  }
  // A store, when named, holds no run: nothing ran, nothing half-recorded.
  if (args.find("--db ") != std::string::npos && fs::exists(s.db())) {
    Database db(s.db(), false);
    Statement q(db, "SELECT COUNT(*) FROM runs");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.column_int64(0), 0) << args;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, BadInput, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

TEST(BadInputTable, HasAtLeastFortyCasesAcrossEveryKind) {
  const auto all = cases();
  EXPECT_GE(all.size(), 40u);
  std::map<std::string, int> kinds;
  for (const auto& k : all) ++kinds[k.name.substr(0, k.name.find('_'))];
  for (const char* kind : {"config", "matrix", "ckpt", "gguf", "llama2c", "tokenizer", "data", "export"})
    EXPECT_GE(kinds[kind], 1) << kind;
  std::printf("%zu bad-input cases: ", all.size());
  for (const auto& [kind, n] : kinds) std::printf("%s %d  ", kind.c_str(), n);
  std::printf("\n");
}

}  // namespace
}  // namespace ptq
