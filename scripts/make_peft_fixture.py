#!/usr/bin/env python3
"""Hugging Face PEFT LoRA reference fixture for gpt2lab::peft (tests/peft.rs).

    ~/.cache/gpt2lab/refvenv/bin/python scripts/make_peft_fixture.py

Deterministic (fixed seeds, CPU, float32, eager attention). Base model: the random-weight
GPT-2 in tests/fixtures/hf/bare (vocab 1000, n_embd 32, 2 layers). Writes
tests/fixtures/peft/lora/:

  adapter_config.json, adapter_model.safetensors   PeftModel.save_pretrained output
        (LoRA r=4, lora_alpha=8, target_modules c_attn + c_fc, fan_in_fan_out=True,
        dropout 0; lora_B randomised so that dW != 0, since PEFT initialises it to 0)
  expected.safetensors:
        input_ids  int64 [2, 12]   random ids
        targets    int64 [2, 12]   random next-token targets
        logits     f32   [2, 12, 1000]   PEFT model forward (eval mode, adapter unmerged)
        merged_logits f32 [2, 12, 1000]  after merge_and_unload()
        loss       f32   []        mean cross-entropy(logits, targets)
        grad.<key> f32   gradient of loss w.r.t. every lora_A / lora_B weight, under the
                   key it has in adapter_model.safetensors

With `--check DIR` it instead loads an adapter written by gpt2lab (DIR holds
adapter_config.json + adapter_model.safetensors + rust_logits.safetensors with
input_ids and logits) into PEFT and prints the max |logit difference| (the reverse
direction: gpt2lab -> PEFT).
"""
import argparse, json, os, sys
import torch
from safetensors.torch import save_file, load_file
from transformers import GPT2LMHeadModel
from peft import LoraConfig, get_peft_model, PeftModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = os.path.join(ROOT, "tests", "fixtures", "hf", "bare")
OUT = os.path.join(ROOT, "tests", "fixtures", "peft", "lora")


def base():
    m = GPT2LMHeadModel.from_pretrained(BASE, attn_implementation="eager")
    return m.eval()


def check(d):
    m = PeftModel.from_pretrained(base(), d).eval()
    t = load_file(os.path.join(d, "rust_logits.safetensors"))
    with torch.no_grad():
        logits = m(input_ids=t["input_ids"]).logits
    print("max |logits(PEFT, gpt2lab adapter) - logits(gpt2lab)| =", (logits - t["logits"]).abs().max().item())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check")
    a = ap.parse_args()
    torch.manual_seed(0)
    if a.check:
        return check(a.check)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn", "c_fc"], lora_dropout=0.0,
                     fan_in_fan_out=True, bias="none", task_type="CAUSAL_LM")
    m = get_peft_model(base(), cfg)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    m.eval()
    os.makedirs(OUT, exist_ok=True)
    m.save_pretrained(OUT)
    # a repository-relative base path (PEFT writes the absolute one) and no model card
    cp = os.path.join(OUT, "adapter_config.json")
    c = json.load(open(cp))
    c["base_model_name_or_path"] = "tests/fixtures/hf/bare"
    json.dump(c, open(cp, "w"), indent=2, sort_keys=True)
    if os.path.exists(os.path.join(OUT, "README.md")):
        os.remove(os.path.join(OUT, "README.md"))
    ids = torch.randint(0, 1000, (2, 12), generator=g)
    targets = torch.randint(0, 1000, (2, 12), generator=g)
    logits = m(input_ids=ids).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 1000), targets.reshape(-1))
    loss.backward()
    saved = load_file(os.path.join(OUT, "adapter_model.safetensors"))
    out = {"input_ids": ids, "targets": targets, "logits": logits.detach().contiguous(), "loss": loss.detach()}
    names = {n: p for n, p in m.named_parameters() if "lora_" in n}
    for key in saved:
        # saved keys drop the adapter name: ...lora_A.weight <- ...lora_A.default.weight
        p = names[key.replace(".lora_A.weight", ".lora_A.default.weight").replace(".lora_B.weight", ".lora_B.default.weight")]
        out["grad." + key] = p.grad.detach().contiguous()
    with torch.no_grad():
        merged = m.merge_and_unload()
        out["merged_logits"] = merged(input_ids=ids).logits.contiguous()
    save_file(out, os.path.join(OUT, "expected.safetensors"))
    import peft, transformers
    json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
              open(os.path.join(OUT, "versions.json"), "w"), indent=1)
    print("wrote", OUT, sorted(saved))


if __name__ == "__main__":
    main()
