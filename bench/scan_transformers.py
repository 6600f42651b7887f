"""Anchor: the batched transformers scan (64 words a batch in file order, right padding,
`output_hidden_states=True`, mean pooling over every hidden state, f32, the model's default
attention implementation), timed like lexalign's `bench --case scan` (load excluded). With
`--metrics` (the `scan-metrics` case, timed like `bench --case scan-metrics`: the work of `lexalign
scan`) the word file's lines 2i, 2i+1 are pair i and every hidden state's retrieval metrics are
computed too (`scan_metrics.py`: the same metrics as lexalign's `layers.csv`, in torch, f64).

    "$LEXALIGN_REF_PYTHON" bench/scan_transformers.py --model-file M.gguf --word-file W --threads 2 [--metrics]
"""
import time

import torch

from anchor_common import emit, load, mean_pool, parse, words

def flags(ap):
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--metrics", action="store_true", help="also every hidden state's retrieval metrics")


a = parse(__doc__, flags)
tok, model, load_s = load(a.model_file)
ws = words(a.word_file)
resident = sum(p.numel() * p.element_size() for p in model.parameters())
tokens = padded = 0
kept = []
t = time.perf_counter()
with torch.no_grad():
    for i in range(0, len(ws), a.batch_size):
        enc = tok(ws[i:i + a.batch_size], padding=True, return_tensors="pt")
        att = enc["attention_mask"]
        tokens += int(att.sum())
        padded += att.numel()
        hs = model(**enc, output_hidden_states=True).hidden_states
        kept.append([mean_pool(h, att) for h in hs])
    if a.metrics:
        import scan_metrics
        stack = torch.stack([torch.cat([b[l] for b in kept]) for l in range(len(kept[0]))])  # [L, words, d]
        src_words, tgt_words = ws[0::2], ws[1::2]
        src = scan_metrics.distinct_rows(stack[:, 0::2, :], src_words)
        cand = scan_metrics.distinct_rows(stack[:, 1::2, :], tgt_words)
        m = scan_metrics.metrics((src, cand), src_words, tgt_words)
seconds = time.perf_counter() - t
if a.metrics:
    import sys
    best = int(m["centered_p1_csls"].argmax())
    print(f"metrics: {len(kept[0])} hidden states; best centred CSLS P@1 {float(m['centered_p1_csls'][best]):.4f} at {best}", file=sys.stderr)
emit("transformers", "scan-metrics" if a.metrics else "scan", a, load_s, seconds, words=len(ws), layers=len(kept[0]), tokens=tokens,
     padded_tokens=padded, resident_weight_bytes=resident)
