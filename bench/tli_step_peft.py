"""Anchor: one TLI step with transformers + peft (LoRA r 16, alpha 32, dropout 0.05 on
q_proj+v_proj; hardest-negative triplet loss, margin 0.4, at hidden_states[--layer], mean
pooling; batch 8; AdamW 2e-4; f32). Pairs are the word file's lines 2i, 2i+1 (i < 8), as in
lexalign's `bench --case tli-step`. One warm-up step, then the median of --steps.

    "$LEXALIGN_REF_PYTHON" bench/tli_step_peft.py --model-file M.gguf --word-file W --layer 2
"""
import statistics, time

import torch
from peft import LoraConfig, get_peft_model

from anchor_common import emit, load, mean_pool, parse, words


def extra(ap):
    ap.add_argument("--layer", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)


a = parse(__doc__, extra)
tok, base, load_s = load(a.model_file)
ws = words(a.word_file)[:16]
src, tgt = ws[0::2], ws[1::2]
model = get_peft_model(base, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=["q_proj", "v_proj"]))
model.train()
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
torch.manual_seed(0)


def pooled(batch):
    enc = tok(batch, padding=True, return_tensors="pt")
    hs = model(**enc, output_hidden_states=True).hidden_states
    return mean_pool(hs[a.layer], enc["attention_mask"])


times = []
for step in range(a.steps + 1):
    t = time.perf_counter()
    s = pooled(src) @ pooled(tgt).T
    neg = s.masked_fill(torch.eye(len(src), dtype=torch.bool), float("-inf")).max(dim=1).values
    loss = torch.relu(0.4 + neg - s.diagonal()).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step > 0:
        times.append(time.perf_counter() - t)
emit("transformers+peft", "tli-step", a, load_s, statistics.median(times), words=16, layers=a.layer)
