"""Checkpoint 4 benchmark: the from-scratch reference Transformer against the same model built
from ``torch.nn.Transformer``, trained side by side on the same data, steps and seed.

    python benchmarks/cp4_transformer.py                      # reversal, its default steps
    python benchmarks/cp4_transformer.py --task sort --steps 600 --threads 1
    python benchmarks/cp4_transformer.py --thresholds --seeds 20  # evidence for the test bars

Both models have the reference's configuration (``MODEL_SETTINGS``: post-norm, ReLU, sinusoidal
positions, embeddings scaled by sqrt(d_model), no final LayerNorm after the stacks) and the
same initial embeddings and output layer; both train with the same loop (Adam, the paper's
schedule, label smoothing, the same batches from ``seq_tasks``) and are evaluated with the same
greedy decoder on the same held-out sequences. Prints training throughput in target tokens per
second (goal: the reference at least 0.7x torch's) and the held-out exact match (goal: equal).

``--thresholds`` instead trains the reference's ``train_seq2seq`` on every task for seeds
0..N-1 with the hidden test's protocol (1,000 held-out sequences drawn with seed + 1, greedy
exact match) and prints each run and the minimum per task: the evidence behind the bars.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solutions"))

import cp4_transformer as ref  # noqa: E402

from autograder.support import seq_tasks  # noqa: E402


class TorchSeq2Seq(nn.Module):
    """The reference's architecture with ``nn.Transformer`` inside, exposing the reference's
    ``encode``/``decode``/``forward`` (boolean keep-masks) so the same decoder can run it."""

    def __init__(self, vocab: int, d_model: int, num_heads: int, num_encoder_layers: int,
                 num_decoder_layers: int, d_ff: int, dropout: float, max_len: int, pad_id: int):
        super().__init__()
        self.d_model, self.pad_id = d_model, pad_id
        self.src_embed = nn.Embedding(vocab, d_model)
        self.tgt_embed = nn.Embedding(vocab, d_model)
        for e in (self.src_embed, self.tgt_embed):
            nn.init.normal_(e.weight, std=d_model ** -0.5)
        self.register_buffer("pe", ref.sinusoidal_positional_encoding(max_len, d_model),
                             persistent=False)
        enc = nn.TransformerEncoderLayer(d_model, num_heads, d_ff, dropout, batch_first=True)
        dec = nn.TransformerDecoderLayer(d_model, num_heads, d_ff, dropout, batch_first=True)
        self.transformer = nn.Transformer(
            d_model, num_heads, batch_first=True,
            custom_encoder=nn.TransformerEncoder(enc, num_encoder_layers, norm=None,
                                                 enable_nested_tensor=False),
            custom_decoder=nn.TransformerDecoder(dec, num_decoder_layers, norm=None))
        self.out_proj = nn.Linear(d_model, vocab)
        self.dropout = nn.Dropout(dropout)

    def embed(self, tokens: torch.Tensor, table: nn.Embedding) -> torch.Tensor:
        x = table(tokens) * math.sqrt(self.d_model) + self.pe[: tokens.shape[1]]
        return self.dropout(x)

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        pad = src == self.pad_id if src_mask is None else ~src_mask[:, 0, 0, :]
        return self.transformer.encoder(self.embed(src, self.src_embed),
                                        src_key_padding_mask=pad)

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor,
               src_mask: torch.Tensor) -> torch.Tensor:
        T = tgt_in.shape[1]
        blocked = ~ref.causal_mask(T)  # torch's boolean masks are True where *blocked*
        y = self.transformer.decoder(self.embed(tgt_in, self.tgt_embed), memory,
                                     tgt_mask=blocked, tgt_key_padding_mask=tgt_in == self.pad_id,
                                     memory_key_padding_mask=~src_mask[:, 0, 0, :])
        return self.out_proj(y)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        src_mask = ref.padding_mask(src, self.pad_id)
        return self.decode(tgt_in, self.encode(src, src_mask), src_mask)


def build(kind: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    settings = {**ref.MODEL_SETTINGS, "pad_id": seq_tasks.PAD}
    if kind == "reference":
        return ref.Transformer(seq_tasks.VOCAB_SIZE, seq_tasks.VOCAB_SIZE, **settings)
    return TorchSeq2Seq(seq_tasks.VOCAB_SIZE, **settings)


def train(model: nn.Module, task: str, steps: int, seed: int, batch_size: int = 128,
          warmup: int = 100) -> tuple[float, int]:
    """train_seq2seq's loop on ``model``; returns (seconds, target tokens seen)."""
    data = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    scheduler = ref.make_scheduler(optimizer, model.d_model, warmup, 1.0, steps)
    model.train()
    tokens = 0
    start = time.perf_counter()
    for _ in range(steps):
        src, tgt = seq_tasks.generate(task, batch_size, data)
        logits = model(src, tgt[:, :-1])
        loss = ref.label_smoothed_cross_entropy(logits, tgt[:, 1:], 0.1, seq_tasks.PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        tokens += int((tgt[:, 1:] != seq_tasks.PAD).sum())
    return time.perf_counter() - start, tokens


def thresholds(first_seed: int, seeds: int, tasks: list[str]) -> None:
    """Reference exact match per task for seeds first_seed .. first_seed + seeds - 1, seeds
    interleaved across tasks."""
    results: dict[str, list[float]] = {t: [] for t in tasks}
    for seed in range(first_seed, first_seed + seeds):
        for task in tasks:
            wall, cpu = time.perf_counter(), time.process_time()
            model = ref.train_seq2seq(task, seed=seed)
            src, tgt = seq_tasks.generate(task, 1000, seed=seed + 1)
            acc = ref.exact_match_accuracy(model, src, tgt)
            results[task].append(acc)
            print(f"{task:<8} seed {seed:>2}: exact match {acc:.4f}  "
                  f"({time.perf_counter() - wall:.1f}s wall, {time.process_time() - cpu:.1f}s "
                  f"CPU)", flush=True)
    for task, accs in results.items():
        print(f"{task:<8} {len(accs)} seeds: min {min(accs):.4f}, mean "
              f"{sum(accs) / len(accs):.4f}, max {max(accs):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="reverse", choices=seq_tasks.TASKS)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0, help="seed (--thresholds: the first)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--thresholds", action="store_true",
                        help="reference exact match over --seeds seeds on every task")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--tasks", nargs="+", default=list(seq_tasks.TASKS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.thresholds:
        thresholds(args.seed, args.seeds, args.tasks)
        return
    steps = args.steps or ref.TRAIN_STEPS[args.task]
    src, tgt = seq_tasks.generate(args.task, 2000, seed=10_000 + args.seed)
    rows = {}
    for kind in ("reference", "torch.nn.Transformer"):
        model = build(kind, args.seed)
        n_params = sum(p.numel() for p in model.parameters())
        seconds, tokens = train(model, args.task, steps, args.seed)
        acc = ref.exact_match_accuracy(model, src, tgt)
        rows[kind] = (n_params, seconds, tokens / seconds, acc)
    print(f"task {args.task}, {steps} steps of batch 128, seed {args.seed}, "
          f"{args.threads} thread(s), exact match on 2000 held-out sequences")
    print(f"{'model':<22} {'params':>8} {'train s':>8} {'tokens/s':>9} {'exact match':>12}")
    for kind, (n, s, tps, acc) in rows.items():
        print(f"{kind:<22} {n:>8} {s:>8.1f} {tps:>9.0f} {acc:>12.2%}")
    ratio = rows["reference"][2] / rows["torch.nn.Transformer"][2]
    print(f"reference / torch throughput: {ratio:.2f}x (goal >= 0.7x)")


if __name__ == "__main__":
    main()
