"""Checkpoint 5 benchmark: the reference miniGPT against the same model built from
``torch.nn.TransformerEncoderLayer``, and generation with against without the key/value cache.

    python benchmarks/cp5_bert_gpt.py [--steps 200] [--threads 1]

Both language models have the same size (pre-norm, GELU, 4x MLP, learned positions, tied head,
GPT-2 initialisation), see the same batches of Wikipedia characters with the same seed, optimizer
(the reference AdamW), schedule and clipping. The table gives training throughput (tokens per
second) and validation loss for each, and the time to generate 256 new tokens with and without
the cache. Goals: throughput >= 0.8x the PyTorch model, validation loss within 2%, the cache at
least 3x faster.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "solutions"))

from cp5_bert_gpt import (  # noqa: E402
    CharTokenizer,
    MiniGPT,
    configure_optimizer,
    evaluate,
    get_batch,
    init_weights,
    lr_at,
    train_step,
)

from autograder.support import corpora  # noqa: E402


class TorchGPT(nn.Module):
    """The same GPT with its blocks from ``nn.TransformerEncoderLayer`` and a causal mask."""

    def __init__(self, vocab_size: int, block_size: int, n_layer: int, n_head: int,
                 n_embd: int):
        super().__init__()
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        layer = nn.TransformerEncoderLayer(n_embd, n_head, 4 * n_embd, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layer, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight
        init_weights(self, n_layer)
        for name, p in self.named_parameters():  # the residual projections, GPT-2 style
            if name.endswith(("self_attn.out_proj.weight", "linear2.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))
            elif name.endswith("in_proj_weight"):  # a bare Parameter, not an nn.Linear
                nn.init.normal_(p, mean=0.0, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))
        mask = nn.Transformer.generate_square_subsequent_mask(T, device=idx.device)
        x = self.encoder(x, mask=mask, is_causal=True)
        return self.lm_head(self.ln_f(x))


def train(model: nn.Module, data: torch.Tensor, steps: int, block_size: int, batch_size: int,
          seed: int) -> float:
    """Train with the reference loop; returns the training time in seconds."""
    optimizer = configure_optimizer(model, 3e-3, 0.1)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    start = time.perf_counter()
    for step in range(steps):
        x, y = get_batch(data, block_size, batch_size, generator=gen)
        train_step(model, optimizer, x, y, grad_clip=1.0, lr=lr_at(step, 3e-3, 3e-4, 20, steps))
    return time.perf_counter() - start


def time_generation(model: MiniGPT, prompt: torch.Tensor, n_new: int, use_cache: bool,
                    repeats: int = 3) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        model.generate(prompt, n_new, use_cache=use_cache, seed=0)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = {"n_layer": 2, "n_head": 4, "n_embd": 64}
    block_size, batch_size = 64, 32

    text = corpora.wikipedia_text(600_000)
    tok = CharTokenizer(text)
    ids = torch.tensor(tok.encode(text))
    data, val = ids[:-50_000], ids[-50_000:]
    rows = []
    for name, cls in (("reference miniGPT", MiniGPT), ("nn.TransformerEncoderLayer", TorchGPT)):
        torch.manual_seed(args.seed)
        model = cls(tok.vocab_size, block_size, **size)
        seconds = train(model, data, args.steps, block_size, batch_size, args.seed)
        loss = evaluate(model, val, block_size)["loss"]
        rows.append((name, args.steps * batch_size * block_size / seconds, loss))
    (ref_name, ref_tps, ref_loss), (_, torch_tps, torch_loss) = rows
    print(f"training: {args.steps} steps, batch {batch_size} x {block_size} chars, "
          f"{sum(p.numel() for p in MiniGPT(tok.vocab_size, block_size, **size).parameters())}"
          f" parameters, {args.threads} thread(s)")
    print(f"{'model':30s} {'tokens/s':>10s} {'val loss':>9s}")
    for name, tps, loss in rows:
        print(f"{name:30s} {tps:10.0f} {loss:9.4f}")
    print(f"{'ratio (reference / torch)':30s} {ref_tps / torch_tps:10.2f}x "
          f"{ref_loss / torch_loss:8.4f}   goals: >= 0.8x, within 2%")

    torch.manual_seed(args.seed)
    gen_model = MiniGPT(tok.vocab_size, 512, **size).eval()
    prompt = torch.tensor([tok.encode("The history of ")])
    print(f"\ngeneration of 256 new tokens (prompt {prompt.shape[1]}, block_size 512):")
    print(f"{'batch':>5s} {'with cache':>12s} {'without':>12s} {'speed-up':>9s}   goal: >= 3x")
    for batch in (1, 8):
        prompts = prompt.repeat(batch, 1)
        with_cache = time_generation(gen_model, prompts, 256, use_cache=True)
        without = time_generation(gen_model, prompts, 256, use_cache=False)
        print(f"{batch:5d} {with_cache * 1000:9.0f} ms {without * 1000:9.0f} ms "
              f"{without / with_cache:8.2f}x")

if __name__ == "__main__":
    main()
