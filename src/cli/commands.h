// The table of `ptq` subcommands; main() dispatches on it and `ptq --help` lists it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ptq::cli {

// Each returns the process exit code; errors are thrown as ptq::Error and mapped to exit codes by main().
int cmd_version(const std::vector<std::string>& words);
int cmd_spec(const std::vector<std::string>& words);
int cmd_generate(const std::vector<std::string>& words);
int cmd_methods(const std::vector<std::string>& words);
int cmd_run(const std::vector<std::string>& words);
int cmd_regress(const std::vector<std::string>& words);
int cmd_verify_export(const std::vector<std::string>& words);
int cmd_eval(const std::vector<std::string>& words);
int cmd_table(const std::vector<std::string>& words);
int cmd_plot(const std::vector<std::string>& words);
int cmd_report(const std::vector<std::string>& words);
int cmd_import(const std::vector<std::string>& words);
int cmd_merge(const std::vector<std::string>& words);
int cmd_dump(const std::vector<std::string>& words);
int cmd_status(const std::vector<std::string>& words);
int cmd_train(const std::vector<std::string>& words);
int cmd_random_model(const std::vector<std::string>& words);
int cmd_bench_import(const std::vector<std::string>& words);
int cmd_convert(const std::vector<std::string>& words);

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(const std::vector<std::string>& words);
};

inline constexpr Command kCommands[] = {
    {"version", "build commit, LibTorch, BLAS, threads, CUDA, measured fp32 GEMM rate", cmd_version},
    {"generate", "greedy continuation of a prompt (HF directory, llama2.c .bin or .gguf)", cmd_generate},
    {"eval", "perplexity on a dataset (wikitext2, ptb, c4, c4_gptq, tinystories, text) with its protocol", cmd_eval},
    {"methods", "the registered quantization methods with their parameters and defaults", cmd_methods},
    {"run", "one LLMC-style configuration end to end, or every cell of an experiment matrix (resumable)", cmd_run},
    {"regress", "compare a results store with a baseline store; exit 3 on a regression", cmd_regress},
    {"verify-export", "check a real-quant export (AutoAWQ, GPTQ) bit for bit and by perplexity; exit 3 on a mismatch",
     cmd_verify_export},
    {"spec", "parse a quantization scheme name (w4a16g128, w8a8, ...) and show its grids", cmd_spec},
    {"table", "a paper table of one matrix from the results store: mean ± std of fake_quant ppl", cmd_table},
    {"plot", "an SVG figure of one matrix: ppl (log scale) against weight bits per method, fp line", cmd_plot},
    {"report", "one self-contained HTML page per matrix: tables, figures, protocol, runs, per-layer heat maps",
     cmd_report},
    {"import", "`ptq run --json` records (results/*.jsonl) into the results store as one matrix", cmd_import},
    {"merge", "merge results-store shards (SLURM array tasks) into the main store, idempotently", cmd_merge},
    {"dump", "a matrix's finished runs as JSON lines (the committed form of a store); `ptq import` restores them",
     cmd_dump},
    {"status", "each cell of a matrix: pending, running, failed or finished, across the store and its shards",
     cmd_status},
    {"train", "train the default model from scratch on the Debian corpus (presets tiny, default), cached", cmd_train},
    {"random-model", "write a randomly initialised Llama checkpoint of any shape (llama2-7b, ...) for benchmarks",
     cmd_random_model},
    {"convert", "a GGUF model (quantized tensors dequantized) as a Hugging Face folder with its tokenizer files",
     cmd_convert},
    {"bench-import", "Google Benchmark JSON output (tests/bench programs) into the results store, with the machine",
     cmd_bench_import},
};

}  // namespace ptq::cli
