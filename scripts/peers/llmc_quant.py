#!/usr/bin/env python3
"""One llm-compressor quantization for scripts/bench_peers.sh (run with the peer venv's python).

Loads the HF float32 folder, feeds llm-compressor exactly the token ids of a ptq tokens file
({"samples": [[ids...], ...]}, the file `ptq run` calibrates on), times the `oneshot` call alone, then writes the
fake-quantized weights (each quantized Linear's weight run through compressed-tensors' fake_quantize with the scale
and zero point llm-compressor chose) as a plain float32 HF folder that `ptq eval` reads. Prints one JSON line.

Methods (weights only, int, per group, lm_head kept in float as ptq does):
  rtn   QuantizationModifier (min-max observer, no data-dependent algorithm)
  gptq  GPTQModifier, actorder None, block_size 128, dampening 0.01; llm-compressor quantizes every Linear of a layer
        on that layer's inputs (= ptq GPTQ with true_sequential False); quantized outputs feed the next layer
  awq   AWQModifier (transform: scale search, duo_scaling True = ptq trans_version v1, n_grid 20, no clip search)
        followed by QuantizationModifier
"""
import argparse
import json
import os
import shutil
import sys
import time


def _empty_tokenizer():
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    return Tokenizer(WordLevel({"<unk>": 0}, unk_token="<unk>"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="HF folder (float32)")
    ap.add_argument("--tokens", required=True, help='ptq tokens file {"samples": [[ids...], ...]}')
    ap.add_argument("--method", required=True, choices=["rtn", "gptq", "awq"])
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--group-size", type=int, default=128)
    ap.add_argument("--symmetric", action="store_true", help="symmetric grid (default: asymmetric, as ptq w4g128)")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--fake-out", help="write the fake-quantized model here (HF folder, float32)")
    ap.add_argument("--json-out", help="also write the result JSON here")
    a = ap.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    import transformers
    import compressed_tensors
    import llmcompressor
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme
    from compressed_tensors.quantization.lifecycle.forward import fake_quantize
    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier
    from llmcompressor.modifiers.transform import AWQModifier
    from safetensors import safe_open
    from safetensors.torch import save_file

    if not torch.accelerator.is_available():
        # llm-compressor 0.14 pins AWQ's cached activations (IntermediatesCache.pin_memory) unconditionally; with a
        # CUDA build of torch and no driver that raises "Found no NVIDIA driver". Pinning only speeds host-to-device
        # copies, of which a CPU run has none: skip it.
        from llmcompressor.pipelines.cache import IntermediatesCache

        IntermediatesCache.pin_memory = lambda self, *args, **kwargs: None

    with open(a.tokens) as f:
        samples = json.load(f)["samples"]
    n, seq_len = len(samples), max(len(s) for s in samples)

    t = time.perf_counter()
    model = transformers.AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    model.eval()
    load_s = time.perf_counter() - t

    weights = QuantizationArgs(num_bits=a.bits, type="int", symmetric=a.symmetric, strategy="group",
                               group_size=a.group_size)
    scheme = {"group_0": QuantizationScheme(targets=["Linear"], weights=weights)}
    quant = dict(config_groups=scheme, ignore=["lm_head"])
    if a.method == "rtn":
        recipe = [QuantizationModifier(**quant)]
    elif a.method == "gptq":
        recipe = [GPTQModifier(block_size=128, dampening_frac=0.01, actorder=None, **quant)]
    else:
        recipe = [AWQModifier(duo_scaling=True, n_grid=20), QuantizationModifier(**quant)]

    # The ids go in as a ready DataLoader (one sample per batch, in file order, no tokenizer, no padding):
    # llm-compressor then skips its dataset processing. It still wants a processor object when data is given; none is
    # used.
    rows = [{"input_ids": torch.tensor(s, dtype=torch.long), "attention_mask": torch.ones(len(s), dtype=torch.long)}
            for s in samples]
    loader = torch.utils.data.DataLoader(rows, batch_size=1, shuffle=False)
    kwargs = dict(model=model, recipe=recipe)
    if a.method != "rtn":
        processor = transformers.PreTrainedTokenizerFast(tokenizer_object=_empty_tokenizer())
        kwargs.update(dataset=loader, processor=processor, num_calibration_samples=n, max_seq_length=seq_len,
                      batch_size=1)
    t = time.perf_counter()
    model = oneshot(**kwargs)
    oneshot_s = time.perf_counter() - t

    out = {"tool": "llmcompressor", "method": a.method, "threads": a.threads, "torch_threads": torch.get_num_threads(),
           "samples": n, "seq_len": seq_len, "load_s": load_s, "oneshot_s": oneshot_s,
           "versions": {"llmcompressor": llmcompressor.__version__,
                        "compressed_tensors": compressed_tensors.__version__,
                        "transformers": transformers.__version__, "torch": torch.__version__,
                        "python": sys.version.split()[0]}}

    if a.fake_out:
        t = time.perf_counter()
        names = {n: m for n, m in model.named_modules()}
        with safe_open(os.path.join(a.model, "model.safetensors"), "pt") as f:
            keys = list(f.keys())
        tensors, quantized = {}, 0
        with torch.no_grad():
            for k in keys:
                mod_name, _, leaf = k.rpartition(".")
                m = names[mod_name]
                w = getattr(m, leaf).detach()
                qs = getattr(m, "quantization_scheme", None)
                if leaf == "weight" and qs is not None and qs.weights is not None and hasattr(m, "weight_scale"):
                    zp = getattr(m, "weight_zero_point", None)
                    w = fake_quantize(w, m.weight_scale, zp, qs.weights)
                    quantized += 1
                tensors[k] = w.to(torch.float32).contiguous().clone()
        os.makedirs(a.fake_out, exist_ok=True)
        save_file(tensors, os.path.join(a.fake_out, "model.safetensors"), metadata={"format": "pt"})
        for name in os.listdir(a.model):  # config and tokenizer files beside the weights (not folders: ptq train's data/)
            if not os.path.isfile(os.path.join(a.model, name)):
                continue
            if name != "model.safetensors" and not name.endswith(".json") or name == "config.json":
                shutil.copy(os.path.join(a.model, name), a.fake_out)
        out.update(fake_out=a.fake_out, quantized_linears=quantized, export_s=time.perf_counter() - t)

    line = json.dumps(out)
    if a.json_out:
        with open(a.json_out, "w") as f:
            f.write(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
