#include "train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <random>
#include <unistd.h>

#include "core/build_info.h"
#include "core/error.h"
#include "core/output_file.h"
#include "core/read_file.h"
#include "core/sha256.h"
#include "core/threads.h"
#include "data/eval_text.h"
#include "eval/perplexity.h"
#include "model/causal_lm.h"
#include "model/hf_checkpoint.h"
#include "model/random_model.h"
#include "model/tokenizer.h"
#include "train/corpus.h"
#include "train/tokenizer_trainer.h"

namespace fs = std::filesystem;

namespace ptq {
namespace {

// Bump when training code changes the weights a preset and seed produce (invalidates cached models).
constexpr int kTrainerVersion = 1;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string hms(double s) {
  const int64_t t = static_cast<int64_t>(std::llround(std::max(0.0, s)));
  return t >= 3600 ? fmt::format("{}h{:02d}m", t / 3600, (t / 60) % 60) : fmt::format("{}m{:02d}s", t / 60, t % 60);
}

// One BOS per document (line), documents concatenated: int32 [N].
at::Tensor tokenize_documents(const Tokenizer& tok, const std::string& text) {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t e = text.find('\n', pos);
    if (e == std::string::npos) e = text.size();
    if (e > pos) {
      const auto doc = tok.encode(std::string_view(text).substr(pos, e - pos), /*add_bos=*/true);
      ids.insert(ids.end(), doc.begin(), doc.end());
    }
    pos = e + 1;
  }
  return at::from_blob(ids.data(), {static_cast<int64_t>(ids.size())}, at::kInt).clone();
}

// GPT-2 style initialisation: N(0, 0.02) everywhere, residual outputs (o_proj, down_proj) scaled by 1/sqrt(2·layers)
// so the residual stream's variance does not grow with depth; norms start at 1.
void init_weights(CausalLM& model, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  at::NoGradGuard no_grad;
  for (auto& kv : model->named_parameters()) {
    at::Tensor& p = kv.value();
    if (p.dim() == 1) {
      p.fill_(1.0);
    } else {
      p.normal_(0.0, gpt2_init_std(kv.key(), model->num_layers()), gen);
    }
    p.set_requires_grad(true);
  }
}

double lr_at(const TrainPreset& p, int64_t step, int64_t steps) {
  if (step < p.warmup_steps) return p.lr * static_cast<double>(step + 1) / static_cast<double>(p.warmup_steps);
  const double t = static_cast<double>(step - p.warmup_steps) / static_cast<double>(std::max<int64_t>(1, steps - p.warmup_steps));
  return p.min_lr + 0.5 * (p.lr - p.min_lr) * (1.0 + std::cos(M_PI * std::min(1.0, t)));
}

// Perplexity of an add-one unigram model estimated on `train` (int32 [N]) over the tokens ptq eval scores in `ids`:
// positions 1..L-1 of each full window of L. The scale a trained model's perplexity is read against.
double unigram_perplexity(const at::Tensor& train, int64_t vocab, const std::vector<int32_t>& ids, int64_t L) {
  const at::Tensor counts = at::bincount(train.to(at::kLong), {}, vocab).to(at::kDouble);
  const double total = counts.sum().item<double>() + static_cast<double>(vocab);
  const auto c = counts.accessor<double, 1>();
  double nll = 0;
  int64_t n = 0;
  const int64_t windows = static_cast<int64_t>(ids.size()) / L;
  for (int64_t w = 0; w < windows; ++w)
    for (int64_t p = 1; p < L; ++p, ++n) nll -= std::log((c[ids[w * L + p]] + 1.0) / total);
  PTQ_CHECK(n > 0, "held-out split shorter than one window of {} tokens", L);
  return std::exp(nll / static_cast<double>(n));
}

bool card_matches(const fs::path& dir, const std::string& key) {
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model", "ptq_train.json", "data/valid.txt",
                        "data/calib.txt"})
    if (!fs::exists(dir / f)) return false;
  const auto card = nlohmann::json::parse(read_file(dir / "ptq_train.json"), nullptr, false);
  return !card.is_discarded() && card.value("cache_key", "") == key;
}

}  // namespace

std::string train_cache_key(const std::string& corpus_sha256, const TrainPreset& preset, uint64_t seed) {
  return sha256_hex(nlohmann::json{{"corpus_sha256", corpus_sha256},
                                   {"preset", preset.to_json()},
                                   {"seed", seed},
                                   {"trainer_version", kTrainerVersion}}
                        .dump());
}

TrainResult train_model(const TrainOptions& opt) {
  TrainPreset preset = train_preset(opt.preset);
  if (opt.steps > 0) {
    preset.steps = opt.steps;
    preset.warmup_steps = std::min(preset.warmup_steps, std::max<int64_t>(1, opt.steps / 10));
  }
  const fs::path out = opt.out_dir.empty() ? fs::path("results/models") / preset.name : fs::path(opt.out_dir);
  const auto log = [&](const std::string& s) {
    if (opt.verbose) fmt::print(stderr, "train {}: {}\n", preset.name, s);
  };
  const auto t_all = Clock::now();

  auto t = Clock::now();
  CorpusOptions co;
  co.dir = opt.corpus_dir;
  if (const char* root = std::getenv("PTQ_CORPUS_ROOT"); root && *root) co.root = root;  // tests: a bare root
  const CorpusInfo corpus = build_corpus(co);
  const double corpus_s = seconds_since(t);
  const std::string key = train_cache_key(corpus.sha256, preset, opt.seed);
  TrainResult res;
  res.out_dir = out.string();
  if (!opt.force && card_matches(out, key)) {
    res.cached = true;
    res.card = nlohmann::json::parse(read_file(out / "ptq_train.json"));
    log(fmt::format("cached in {} (key {})", out.string(), key.substr(0, 12)));
    return res;
  }
  log(fmt::format("corpus {} ({} s): {}", corpus.dir, std::lround(corpus_s), corpus.sha256.substr(0, 12)));

  const fs::path tmp = out.string() + fmt::format(".tmp-{}", getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp / "data");

  t = Clock::now();
  train_tokenizer({.text_path = corpus.train_path,
                   .model_path = (tmp / "tokenizer.model").string(),
                   .vocab_size = preset.model.vocab_size,
                   .max_sentences = preset.tokenizer_sentences,
                   .seed = static_cast<uint32_t>(opt.seed + 1234)});
  const double tokenizer_s = seconds_since(t);
  const auto tok = load_tokenizer((tmp / "tokenizer.model").string());
  PTQ_ASSERT(tok->vocab_size() == preset.model.vocab_size, "tokenizer has {} pieces, preset asks {}", tok->vocab_size(),
             preset.model.vocab_size);

  t = Clock::now();
  const at::Tensor stream = tokenize_documents(*tok, read_file(corpus.train_path));
  const double tokenize_s = seconds_since(t);
  const int64_t N = stream.numel(), L = preset.seq_len, B = preset.batch_size;
  PTQ_CHECK(N > L + 1, "'{}': {} tokens, fewer than one training window of {}", corpus.train_path, N, L + 1);
  log(fmt::format("tokenizer {} pieces ({:.0f} s); train split {} tokens ({:.0f} s)", tok->vocab_size(), tokenizer_s,
                  N, tokenize_s));

  CausalLM model(preset.model);
  init_weights(model, opt.seed);
  std::vector<at::Tensor> decay, no_decay;
  int64_t n_params = 0, n_embed = 0;
  for (auto& kv : model->named_parameters()) {
    (kv.value().dim() >= 2 ? decay : no_decay).push_back(kv.value());
    n_params += kv.value().numel();
    if (kv.key().find("embed_tokens") != std::string::npos || kv.key().find("lm_head") != std::string::npos)
      n_embed += kv.value().numel();
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  const auto adamw = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(preset.lr).betas({preset.beta1, preset.beta2}).weight_decay(wd).eps(1e-8));
  };
  groups.emplace_back(decay, adamw(preset.weight_decay));
  groups.emplace_back(no_decay, adamw(0.0));
  torch::optim::AdamW optim(groups, torch::optim::AdamWOptions(preset.lr));
  std::vector<at::Tensor> all_params = decay;
  all_params.insert(all_params.end(), no_decay.begin(), no_decay.end());
  log(fmt::format("{} parameters ({} in embeddings), {} steps of {}x{} tokens", n_params, n_embed, preset.steps, B, L));

  std::mt19937_64 rng(opt.seed);
  std::uniform_int_distribution<int64_t> pick(0, N - L - 1);
  const int32_t* s = stream.data_ptr<int32_t>();
  nlohmann::json curve = nlohmann::json::array();
  double loss_sum = 0;
  int64_t loss_n = 0;
  double last_loss = 0;
  model->train();
  t = Clock::now();
  auto last_log = Clock::now();
  const int64_t curve_every = std::max<int64_t>(1, preset.steps / 100);
  for (int64_t step = 0; step < preset.steps; ++step) {
    at::Tensor batch = at::empty({B, L + 1}, at::kLong);
    auto acc = batch.accessor<int64_t, 2>();
    for (int64_t b = 0; b < B; ++b) {
      const int64_t o = pick(rng);
      for (int64_t i = 0; i <= L; ++i) acc[b][i] = s[o + i];
    }
    const double lr = lr_at(preset, step, preset.steps);
    for (auto& g : optim.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    const at::Tensor x = batch.narrow(1, 0, L), y = batch.narrow(1, 1, L);
    const at::Tensor logits = model->forward(x);
    const at::Tensor loss =
        at::cross_entropy_loss(logits.reshape({-1, preset.model.vocab_size}), y.reshape({-1}));
    last_loss = loss.item<double>();
    PTQ_CHECK(std::isfinite(last_loss), "training diverged at step {} (loss {}); lower lr in preset '{}'", step,
              last_loss, preset.name);
    optim.zero_grad();
    loss.backward();
    const double gnorm = torch::nn::utils::clip_grad_norm_(all_params, preset.grad_clip);
    optim.step();
    loss_sum += last_loss;
    ++loss_n;
    const bool last = step + 1 == preset.steps;
    if ((step + 1) % curve_every == 0 || last) {
      curve.push_back({{"step", step + 1}, {"loss", loss_sum / loss_n}, {"lr", lr}, {"grad_norm", gnorm},
                       {"seconds", seconds_since(t)}});
      loss_sum = 0;
      loss_n = 0;
    }
    if (seconds_since(last_log) >= opt.log_every_seconds || last) {
      const double el = seconds_since(t);
      const double tps = static_cast<double>((step + 1) * B * L) / el;
      log(fmt::format("step {}/{} loss {:.3f} lr {:.2e} {:.0f} tok/s elapsed {} ETA {}", step + 1, preset.steps,
                      curve.empty() ? last_loss : curve.back()["loss"].get<double>(), lr, tps, hms(el),
                      hms(el / static_cast<double>(step + 1) * static_cast<double>(preset.steps - step - 1))));
      last_log = Clock::now();
    }
  }
  const double train_s = seconds_since(t);
  model->eval();
  for (auto& p : all_params) p.set_requires_grad(false);

  fs::copy_file(corpus.valid_path, tmp / "data/valid.txt", fs::copy_options::overwrite_existing);
  fs::copy_file(corpus.calib_path, tmp / "data/calib.txt", fs::copy_options::overwrite_existing);
  t = Clock::now();
  EvalTextOptions eo;
  eo.data_path = (tmp / "data/valid.txt").string();
  const EvalText valid = load_eval_text("text", eo);
  PerplexityOptions po;
  po.seq_len = L;
  po.batch_size = 8;
  const PerplexityResult ppl = evaluate_perplexity(model, *tok, valid, po);
  const double unigram = unigram_perplexity(stream, preset.model.vocab_size, perplexity_tokens(*tok, valid.text, false), L);
  const double eval_s = seconds_since(t);
  log(fmt::format("held-out ppl {:.3f} (unigram {:.1f}) over {} tokens", ppl.ppl, unigram, ppl.tokens));

  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& kv : model->named_parameters()) tensors.emplace_back(kv.key(), kv.value().detach().contiguous());
  write_hf_checkpoint(tmp.string(), preset.model, tensors, 5'000'000'000ULL, {{"format", "pt"}});

  res.card = {{"preset", preset.to_json()},
              {"seed", opt.seed},
              {"cache_key", key},
              {"trainer_version", kTrainerVersion},
              {"ptq_commit", build_info().git_commit},
              {"threads", at::get_num_threads()},
              {"corpus", corpus.recipe},
              {"parameters", n_params},
              {"embedding_parameters", n_embed},
              {"train_tokens_available", N},
              {"tokens_seen", preset.steps * B * L},
              {"final_train_loss", curve.back()["loss"]},
              {"loss_curve", curve},
              {"heldout",
               {{"ppl", ppl.ppl},
                {"ppl_stderr", ppl.ppl_stderr},
                {"unigram_ppl", unigram},
                {"tokens", ppl.tokens},
                {"protocol", ppl.protocol}}},
              {"seconds",
               {{"corpus", corpus_s},
                {"tokenizer", tokenizer_s},
                {"tokenize", tokenize_s},
                {"train", train_s},
                {"eval", eval_s},
                {"total", seconds_since(t_all)}}},
              {"train_tokens_per_second", static_cast<double>(preset.steps * B * L) / train_s}};
  write_output_file((tmp / "ptq_train.json").string(), res.card.dump(2) + "\n");

  // Replace <out> only now, in one rename, so an interrupted run never leaves a half-written model behind.
  const fs::path old = out.string() + fmt::format(".old-{}", getpid());
  if (fs::exists(out)) fs::rename(out, old);
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  fs::rename(tmp, out);
  fs::remove_all(old);
  log(fmt::format("wrote {} in {}", out.string(), hms(seconds_since(t_all))));
  return res;
}

}  // namespace ptq
