"""Time per TLI training step in HF transformers + peft, as the authors' loop ran it (every block,
`output_hidden_states=True`, logits included), on the embedded model in f32 on the CPU.

    "$LEXALIGN_REF_PYTHON" crates/lexalign-tli/bench/hf_peft_step.py [threads]

Compare with the Rust side on the same batch, model and threads:
    cargo test -p lexalign-tli --test step_time -- --ignored --nocapture
Settings: r 16, alpha 32, dropout 0.05, q_proj+v_proj on every layer, batch 8, AdamW lr 2e-4 with
the linear warm-up schedule, loss at hidden_states[2] (mean pooling, BOS included), margin 0.4.
"""
import os, sys, time, json
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, get_linear_schedule_with_warmup
from peft import LoraConfig, get_peft_model

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
GGUF_DIR = os.path.expanduser("~/.cache/lexalign/models")
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PAIRS = [("maji", "water"), ("mti", "tree"), ("nyumba", "house"), ("mbwa", "dog"),
         ("paka", "cat"), ("kitabu", "book"), ("jua", "sun"), ("shule", "school")]
WARMUP, TIMED = 3, 20

tok = AutoTokenizer.from_pretrained(GGUF_DIR, gguf_file=GGUF)
tok.pad_token = tok.eos_token
model = AutoModelForCausalLM.from_pretrained(GGUF_DIR, gguf_file=GGUF, dtype=torch.float32)
model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=["q_proj", "v_proj"],
                                         bias="none", task_type="CAUSAL_LM"))
model.train()
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
sched = get_linear_schedule_with_warmup(opt, 50, 390)


def embed(words):
    enc = tok(list(words), return_tensors="pt", padding=True)
    out = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, output_hidden_states=True)
    m = enc.attention_mask.unsqueeze(-1).float()
    v = (out.hidden_states[2] * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(v, p=2, dim=1)


def step():
    a, p = embed([s for s, _ in PAIRS]), embed([e for _, e in PAIRS])
    s = a @ p.T
    neg = s.masked_fill(torch.eye(len(PAIRS), dtype=torch.bool), float("-inf")).max(dim=1).values
    loss = torch.relu(0.4 + neg - s.diagonal()).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    return float(loss)


for _ in range(WARMUP):
    step()
t = time.perf_counter()
for _ in range(TIMED):
    step()
per = (time.perf_counter() - t) / TIMED
print(json.dumps({"impl": "transformers+peft (all 30 blocks)", "threads": threads, "ms_per_step": round(per * 1e3, 2)}))
