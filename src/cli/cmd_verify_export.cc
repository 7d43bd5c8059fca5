// ptq verify-export DIR: checks a real-quant export (AutoAWQ GEMM/GEMV, GPTQ v1/v2) against the fake-quantized model
// it should hold (src/export/verify_export.h). Exit codes: 0 verified, 3 a mismatch, 2 bad input.
#include <fmt/format.h>

#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/device.h"
#include "core/error.h"
#include "export/verify_export.h"
#include "model/loaded_model.h"

namespace ptq::cli {

int cmd_verify_export(const std::vector<std::string>& words) {
  Args args("verify-export",
            "Verify a real-quant export against the fake-quantized model it was written from: unpack every layer and\n"
            "compare it bit for bit (repacked tensors, dequantized weights), compare every other tensor bit for bit,\n"
            "then reload the export through the dequantizing reader and compare perplexities (relative difference\n"
            "<= --tolerance). The reference is an HF checkpoint of the fake-quantized model (save.save_fake writes\n"
            "one); default: fake_quant_model/ beside DIR. Exit codes: 0 verified, 3 a mismatch, 2 bad input.",
            {{"--reference", "DIR", "the fake-quantized model (default: DIR/../fake_quant_model)", ""},
             {"--dataset", "NAME", "dataset for the perplexity comparison", "tinystories"},
             {"--data-path", "FILE", "data file (default: the dataset's file under $PTQ_DATA_DIR)", ""},
             {"--seq-len", "N", "window length in tokens", "256"},
             {"--max-windows", "N", "windows scored (0 = all)", "8"},
             {"--tolerance", "X", "largest accepted relative perplexity difference", "1e-6"},
             device_option(),
             json_option("with the report")},
            {{"DIR", "the export (config.json with quantization_config + safetensors)", true}});
  if (!args.parse(words)) return 0;
  apply_common_options(args);
  namespace fs = std::filesystem;
  const std::string dir = args.positionals().front();
  PTQ_CHECK(fs::is_directory(dir), "ptq verify-export: {}: no such directory", dir);
  std::string reference = args.get_or("--reference", "");
  if (reference.empty()) {
    fs::path p = fs::path(dir).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();  // "out/autoawq_quant_model/"
    reference = (p.parent_path() / "fake_quant_model").string();
    PTQ_CHECK(fs::is_directory(reference),
              "ptq verify-export: no --reference given and {} does not exist (save the "
              "fake-quantized model with save.save_fake, or name it with --reference)",
              reference);
  }
  VerifyOptions o;
  o.dataset = args.get_or("--dataset", "tinystories");
  o.text.data_path = args.get_or("--data-path", "");
  o.ppl.seq_len = args.get_int("--seq-len");
  PTQ_CHECK(o.ppl.seq_len >= 2, "ptq verify-export: --seq-len must be >= 2, got {}", o.ppl.seq_len);
  o.ppl.max_windows = args.get_int("--max-windows");
  PTQ_CHECK(o.ppl.max_windows >= 0, "ptq verify-export: --max-windows must be >= 0, got {}", o.ppl.max_windows);
  o.tolerance = args.get_double("--tolerance");
  PTQ_CHECK(o.tolerance >= 0, "ptq verify-export: --tolerance must be >= 0, got {}", o.tolerance);
  LoadOptions lo;
  lo.device = resolve_device(args.get_or("--device", "cpu"));
  // The export's own tokenizer files (copied when it was written) serve when the reference has none.
  const bool export_tokenizer =
      fs::exists(fs::path(dir) / "tokenizer.json") || fs::exists(fs::path(dir) / "tokenizer.model");
  LoadedModel ref = load_model(reference, export_tokenizer ? dir : "", lo);
  const VerifyReport r = verify_export(dir, ref.model, *ref.tokenizer, o);

  fmt::print("{} ({}): {} quantized layers and {} other tensors checked against {}\n", dir, r.format, r.layers_checked,
             r.tensors_checked, reference);
  fmt::print("perplexity ({} tokens of {}): export {:.9g}, fake-quant {:.9g}, relative difference {:.3g}\n",
             r.ppl_tokens, o.dataset, r.ppl_export, r.ppl_reference, r.ppl_rel_diff);
  for (const auto& m : r.mismatches) fmt::print("MISMATCH {}\n", m);
  fmt::print("{}\n", r.ok() ? "verified" : fmt::format("FAILED: {} mismatch(es)", r.mismatches.size()));
  if (args.json()) {
    nlohmann::json j = r.to_json();
    j["reference"] = reference;
    fmt::print("{}\n", j.dump());
  }
  return r.ok() ? 0 : 3;
}

}  // namespace ptq::cli
