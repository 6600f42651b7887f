"""Shared by the benchmark anchors (run by `cargo xtask bench`, never by the tests).

Interpreter: "$LEXALIGN_REF_PYTHON" (the reference venv of requirements-ref.txt). Each anchor
prints one JSON line with the fields of lexalign's `BenchLine` (crates/lexalign-stages/src/bench_model.rs).
"""
import argparse, json, os, resource, tempfile, time

import torch


def parse(description, extra=None):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model-file", required=True, help="the .gguf lexalign loads (the same file)")
    ap.add_argument("--word-file", required=True, help="one word a line (lexalign bench --case words)")
    ap.add_argument("--threads", type=int, default=2)
    if extra:
        extra(ap)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    return a


def load(gguf):
    """transformers' own GGUF load, dequantized to f32, as the parity fixture generators do.
    Returns (tokenizer, model, seconds)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        name = os.path.basename(gguf)
        os.symlink(os.path.abspath(gguf), os.path.join(tmp, name))
        tok = AutoTokenizer.from_pretrained(tmp, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=name, dtype=torch.float32).eval()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "right"
    return tok, model, time.perf_counter() - t


def words(path):
    with open(path, encoding="utf-8") as f:
        return [w for w in f.read().split("\n") if w != ""]


def mean_pool(h, att):
    """Mean over the attention mask (BOS included, the pilot's pooling), L2-normalised, f32."""
    m = att.unsqueeze(-1).to(h.dtype)
    v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(v.float(), p=2, dim=1)


def emit(tool, case, a, load_s, seconds, **kw):
    line = {"tool": tool, "case": case, "model": os.path.basename(a.model_file), "quant": "none",
            "threads": a.threads, "load_s": load_s, "seconds": seconds, "words": 0, "layers": 0,
            "tokens": 0, "padded_tokens": 0, "resident_weight_bytes": 0,
            # FLOPs are counted once, by lexalign, for the same work on both sides; 0 = not counted here.
            "flops": 0,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    line.update(kw)
    print(json.dumps(line), flush=True)
