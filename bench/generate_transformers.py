"""Anchor: greedy generation with transformers' `generate` (batch 1, f32, KV cache): a prompt of
the first --prompt-tokens tokens of the word file's words joined by spaces, then --new-tokens
tokens with no end-of-sequence stop, as lexalign's `bench --case generate`. One short warm-up
(4 tokens), then the median of --reps timed runs; `tokens` is the new tokens per run.

    "$LEXALIGN_REF_PYTHON" bench/generate_transformers.py --model-file M.gguf --word-file W
"""
import statistics, time

import torch

from anchor_common import emit, load, parse, words


def extra(ap):
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)


a = parse(__doc__, extra)
tok, model, load_s = load(a.model_file)
ids = tok(" ".join(words(a.word_file)))["input_ids"][: a.prompt_tokens]
x = torch.tensor([ids])


def run(n):
    with torch.no_grad():
        out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=n, min_new_tokens=n,
                             do_sample=False, num_beams=1, eos_token_id=None, pad_token_id=0)
    assert out.shape[1] == len(ids) + n


run(4)
times = []
for _ in range(a.reps):
    t = time.perf_counter()
    run(a.new_tokens)
    times.append(time.perf_counter() - t)
emit("transformers", "generate", a, load_s, statistics.median(times), words=len(ids), tokens=a.new_tokens)
