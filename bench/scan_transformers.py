"""Anchor: the batched transformers scan (64 words a batch in file order, right padding,
`output_hidden_states=True`, mean pooling over every hidden state, f32, the model's default
attention implementation), timed like lexalign's `bench --case scan` (load excluded).

    "$LEXALIGN_REF_PYTHON" bench/scan_transformers.py --model-file M.gguf --word-file W --threads 2
"""
import time

import torch

from anchor_common import emit, load, mean_pool, parse, words

a = parse(__doc__, lambda ap: ap.add_argument("--batch-size", type=int, default=64))
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
seconds = time.perf_counter() - t
emit("transformers", "scan", a, load_s, seconds, words=len(ws), layers=len(kept[0]), tokens=tokens,
     padded_tokens=padded, resident_weight_bytes=resident)
