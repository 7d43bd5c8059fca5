#!/usr/bin/env python3
"""Writes the fuzz harnesses' seed corpora, tests/fuzz/corpus/<target>/ (scripts/fuzz.sh, tests/fuzz/CMakeLists.txt).

Small files (a few KB per target) made from the shipped data where that is possible, so that the fuzzers start from
inputs that reach deep into each parser:
  safetensors     three real tensors of stories260K (norm weights) with their bytes; every dtype ptq maps; a truncated
                  and an overlapping file
  gguf            tiny llama and qwen2 models (v1, v2, v3 containers) with llama (sentencepiece scores) and gpt2 (BPE
                  merges) tokenizers in the metadata; a vocabulary-only file
  tokenizer_json  the stories260K tokenizer.json fixtures cut down to their first 80 ids (merges kept when all three
                  tokens survive); a byte-level (GPT-2 style) tokenizer with a Split regex
  experiment      shipped run configurations and matrices over base.yml (what the harness provides)
Standard library only; deterministic (rerunning rewrites the same bytes). Usage: tests/fuzz/make_corpus.py [ROOT]
"""
import json
import os
import struct
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("PTQ_DATA_DIR", os.path.join(ROOT, "..", "shared", "data"))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- safetensors -------------------------------------------------------------------------------------------------

def safetensors(entries, metadata=None, pad=True):
    """entries: [(name, dtype, shape, bytes)] in order."""
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def stories_tensors(names):
    with open(os.path.join(DATA, "models", "stories260K-hf", "model.safetensors"), "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = []
    for name in names:
        e = header[name]
        b, end = e["data_offsets"]
        out.append((name, e["dtype"], e["shape"], raw[8 + n + b:8 + n + end]))
    return out


def make_safetensors():
    real = stories_tensors(["model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
                            "model.norm.weight"])
    good = safetensors(real, {"format": "pt"})
    write("safetensors", "stories260k_norms.safetensors", good)
    write("safetensors", "every_dtype.safetensors", safetensors([
        ("f16", "F16", [2, 3], bytes(range(12))), ("bf16", "BF16", [4], bytes(range(8))),
        ("f64", "F64", [1], struct.pack("<d", 1.5)), ("i64", "I64", [2], struct.pack("<qq", -1, 7)),
        ("u8_empty", "U8", [0, 5], b""), ("scalar", "F32", [], struct.pack("<f", 3.0)),
        ("bool", "BOOL", [3], b"\x00\x01\x01"), ("f8", "F8_E4M3", [2], b"\x38\x40")], {"format": "pt", "k": "v"}))
    write("safetensors", "truncated.safetensors", good[:-100])
    write("safetensors", "overlap.safetensors",
          good.replace(b'"data_offsets":[256,512]', b'"data_offsets":[255,511]'))


# ---- GGUF --------------------------------------------------------------------------------------------------------

T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)


class Gguf:
    def __init__(self, version=3):
        self.version, self.kv, self.tensors = version, [], []

    def _len(self, n):
        return struct.pack("<I" if self.version == 1 else "<Q", n)

    def _str(self, s):
        b = s.encode()
        return self._len(len(b)) + b

    def _val(self, t, v):
        if t == T_STR:
            return self._str(v)
        if t == T_ARR:
            et, items = v
            return struct.pack("<I", et) + self._len(len(items)) + b"".join(self._val(et, x) for x in items)
        fmt = {T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I", T_I32: "<i", T_F32: "<f",
               T_BOOL: "<?", T_U64: "<Q", T_I64: "<q", T_F64: "<d"}[t]
        return struct.pack(fmt, v)

    def add(self, key, t, v):
        self.kv.append((key, t, v))

    def tensor(self, name, shape_hf, ggml_type=0):
        """shape_hf: outermost first (LibTorch order); GGUF stores dims innermost first."""
        n = 1
        for d in shape_hf:
            n *= d
        # Plain types: bytes per value; block types (GGUF quantized): (values, bytes) per block.
        blocks = {2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 10: (256, 84), 11: (256, 110),
                  12: (256, 144), 13: (256, 176), 14: (256, 210)}
        if ggml_type in blocks:
            per, size = blocks[ggml_type]
            n_bytes = n // per * size
        else:
            n_bytes = n * {0: 4, 1: 2, 30: 2}[ggml_type]
        # Deterministic small values: a ramp, so loaded tensors differ from zeros.
        if ggml_type == 0:
            data = b"".join(struct.pack("<f", ((i * 37) % 17 - 8) / 16.0) for i in range(n))
        else:
            data = bytes(((i * 7) % 251) for i in range(n_bytes))
        self.tensors.append((name, list(reversed(shape_hf)), ggml_type, data))

    def bytes(self, alignment=32):
        out = b"GGUF" + struct.pack("<I", self.version)
        out += self._len(len(self.tensors)) + self._len(len(self.kv))
        for k, t, v in self.kv:
            out += self._str(k) + struct.pack("<I", t) + self._val(t, v)
        off, infos, blobs = 0, b"", b""
        for name, dims, ty, data in self.tensors:
            infos += self._str(name) + struct.pack("<I", len(dims))
            infos += b"".join(self._len(d) for d in dims) + struct.pack("<I", ty) + struct.pack("<Q", off)
            pad = (alignment - len(data) % alignment) % alignment
            blobs += data + b"\0" * pad
            off += len(data) + pad
        out += infos
        out += b"\0" * ((alignment - len(out) % alignment) % alignment)
        return out + blobs


def tiny_model(arch, version, tokenizer):
    g = Gguf(version)
    H, F, heads, kv, vocab = 8, 16, 2, 1, 8
    g.add("general.architecture", T_STR, arch)
    g.add("general.alignment", T_U32, 32)
    g.add(arch + ".embedding_length", T_U32, H)
    g.add(arch + ".feed_forward_length", T_U32, F)
    g.add(arch + ".block_count", T_U32, 1)
    g.add(arch + ".attention.head_count", T_U32, heads)
    g.add(arch + ".attention.head_count_kv", T_U32, kv)
    g.add(arch + ".attention.layer_norm_rms_epsilon", T_F32, 1e-5)
    g.add(arch + ".rope.freq_base", T_F32, 10000.0)
    g.add(arch + ".context_length", T_U32, 64)
    if tokenizer == "llama":
        toks = ["<unk>", "<s>", "</s>", "\u2581", "\u2581a", "a", "b", "<0x41>"]
        g.add("tokenizer.ggml.model", T_STR, "llama")
        g.add("tokenizer.ggml.tokens", T_ARR, (T_STR, toks))
        g.add("tokenizer.ggml.scores", T_ARR, (T_F32, [0.0, 0.0, 0.0, -1.0, -2.0, -3.0, -4.0, 0.0]))
        g.add("tokenizer.ggml.token_type", T_ARR, (T_I32, [2, 3, 3, 1, 1, 1, 1, 6]))
    else:
        toks = ["H", "e", "l", "o", "\u0120", "He", "ll", "<|endoftext|>"]
        g.add("tokenizer.ggml.model", T_STR, "gpt2")
        g.add("tokenizer.ggml.pre", T_STR, "qwen2" if arch == "qwen2" else "gpt-2")
        g.add("tokenizer.ggml.tokens", T_ARR, (T_STR, toks))
        g.add("tokenizer.ggml.merges", T_ARR, (T_STR, ["H e", "l l"]))
        g.add("tokenizer.ggml.token_type", T_ARR, (T_I32, [1, 1, 1, 1, 1, 1, 1, 3]))
    g.add("tokenizer.ggml.bos_token_id", T_U32, 1)
    g.add("tokenizer.ggml.eos_token_id", T_U32, 2)
    hd = H // heads
    g.tensor("token_embd.weight", [vocab, H])
    g.tensor("blk.0.attn_norm.weight", [H])
    g.tensor("blk.0.attn_q.weight", [heads * hd, H])
    g.tensor("blk.0.attn_k.weight", [kv * hd, H], 1)
    g.tensor("blk.0.attn_v.weight", [kv * hd, H], 30)
    if arch == "qwen2":
        g.tensor("blk.0.attn_q.bias", [heads * hd])
        g.tensor("blk.0.attn_k.bias", [kv * hd])
        g.tensor("blk.0.attn_v.bias", [kv * hd])
    g.tensor("blk.0.attn_output.weight", [H, heads * hd])
    g.tensor("blk.0.ffn_norm.weight", [H])
    g.tensor("blk.0.ffn_gate.weight", [F, H])
    g.tensor("blk.0.ffn_up.weight", [F, H])
    g.tensor("blk.0.ffn_down.weight", [H, F])
    g.tensor("output_norm.weight", [H])
    return g


def make_gguf():
    write("gguf", "tiny_llama_v3.gguf", tiny_model("llama", 3, "llama").bytes())
    write("gguf", "tiny_llama_v1.gguf", tiny_model("llama", 1, "llama").bytes())
    write("gguf", "tiny_qwen2_v2_gpt2.gguf", tiny_model("qwen2", 2, "gpt2").bytes())
    untied = tiny_model("llama", 3, "gpt2")
    untied.tensor("output.weight", [8, 8])
    write("gguf", "tiny_llama_untied_gpt2.gguf", untied.bytes(alignment=64))
    # Every quantized block type, and a byte-level vocabulary with SmolLM's digits-first pre-tokenizer.
    quant = tiny_model("llama", 3, "gpt2")
    quant.kv = [kv for kv in quant.kv if kv[0] != "tokenizer.ggml.pre"] + [("tokenizer.ggml.pre", T_STR, "smollm")]
    for ty in (2, 3, 6, 7, 8):
        quant.tensor(f"q{ty}", [2, 64], ty)
    for ty in (10, 11, 12, 13, 14):
        quant.tensor(f"q{ty}", [1, 256], ty)
    write("gguf", "quantized_blocks_smollm_pre.gguf", quant.bytes())
    vocab = Gguf(3)
    vocab.add("tokenizer.ggml.model", T_STR, "llama")
    vocab.add("tokenizer.ggml.tokens", T_ARR, (T_STR, ["<unk>", "<s>", "</s>", "\u2581the"]))
    vocab.add("nested", T_ARR, (T_ARR, [(T_U8, [1, 2]), (T_U8, [])]))
    vocab.add("mixed", T_ARR, (T_I64, [-1, 2**40]))
    vocab.add("f64", T_F64, 0.25)
    write("gguf", "vocab_only.gguf", vocab.bytes())


# ---- tokenizer.json ----------------------------------------------------------------------------------------------

def cut_tokenizer(path, keep):
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    m = j["model"]
    m["vocab"] = {t: i for t, i in m["vocab"].items() if i < keep}
    merges = []
    for mg in m["merges"]:
        a, b = mg.split(" ") if isinstance(mg, str) else mg
        if a in m["vocab"] and b in m["vocab"] and a + b in m["vocab"]:
            merges.append(mg)
    m["merges"] = merges
    return json.dumps(j, ensure_ascii=False, separators=(",", ":"))


def byte_level_tokenizer():
    # GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100 onwards.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    alphabet = [chr(c) for _, c in sorted(zip(bs, cs))]
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    merges = []
    for a, b in [("\u0120", "t"), ("h", "e"), ("\u0120t", "he"), ("o", "n"), ("c", "e")]:
        vocab.setdefault(a + b, len(vocab))
        merges.append([a, b])
    return json.dumps({
        "version": "1.0",
        "added_tokens": [{"id": len(vocab), "content": "<|endoftext|>", "special": True, "normalized": False,
                          "lstrip": False, "rstrip": False, "single_word": False}],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
                                                   "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
             "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges}}, ensure_ascii=False, separators=(",", ":"))


def make_tokenizer_json():
    fx = os.path.join(ROOT, "tests", "fixtures", "tokenizers")
    write("tokenizer_json", "llama2style_first80.json",
          cut_tokenizer(os.path.join(fx, "stories260k-llama2style", "tokenizer.json"), 80))
    write("tokenizer_json", "metaspace_first80.json",
          cut_tokenizer(os.path.join(fx, "stories260k-metaspace", "tokenizer.json"), 80))
    write("tokenizer_json", "bytelevel_split.json", byte_level_tokenizer())


# ---- experiment files --------------------------------------------------------------------------------------------

def make_experiment():
    cfg = os.path.join(ROOT, "configs", "quantization", "methods")
    for rel in ["GPTQ/gptq_w_only.yml", "Awq/awq_w_only.yml", "RTN/rtn_w_only.yml", "OmniQuant/omniq_w_only.yml",
                "SmoothQuant/smoothquant_w_a.yml"]:
        p = os.path.join(cfg, rel)
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                write("experiment", os.path.basename(p), f.read())
    write("experiment", "matrix.yaml",
          "name: fuzz\nbase: base.yml\nset: {eval.max_windows: 4, calib.n_samples: 8}\naxes:\n"
          "  method:\n    - {name: rtn, set: {quant.method: RTN, quant.special: {}}}\n"
          "    - {name: gptq, set: {quant.method: GPTQ, quant.special.percdamp: 0.1}}\n"
          "  bits:\n    - {name: w3, set: {quant.weight.bit: 3}}\n    - {name: w4, set: {quant.weight.bit: 4}}\n"
          "exclude: [{method: rtn, bits: w3}]\n")
    write("experiment", "step1.yml",
          "base: {seed: 1}\nmodel: {path: m}\nquant: {method: OmniQuant, weight: {bit: 4, symmetric: false, "
          "granularity: per_group, group_size: 32}}\nptq: {step_1: {config: base.yml, handover: scales_clips, "
          "set: {quant: {special: {weight_clip: true}}}}}\n")


if __name__ == "__main__":
    make_safetensors()
    make_gguf()
    make_tokenizer_json()
    make_experiment()
    for t in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, t))
        size = sum(os.path.getsize(os.path.join(OUT, t, f)) for f in files)
        print(f"{t}: {len(files)} files, {size} bytes")
