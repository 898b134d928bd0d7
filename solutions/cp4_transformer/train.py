"""Train the Transformer on the synthetic seq2seq tasks and save its figures.

Run from the folder that holds the package (the same script works on your copy)::

    python -m cp4_transformer.train --out figures                # all three tasks
    python -m cp4_transformer.train --out figures --tasks reverse

For each task it trains with your ``train_seq2seq`` (a progress bar shows the loss), prints the
held-out exact match of greedy decoding and a few examples, and writes to ``--out``:

- ``<task>_loss.png``: the training loss per step;
- ``reverse_attention.png`` (reversal only): the encoder self-attention and the decoder
  cross-attention of every head on one held-out example. Reversal should show an anti-diagonal
  in the cross-attention: output step t looks at source position n - t.

Needs matplotlib (``pip install matplotlib``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tqdm import tqdm

from autograder.support import seq_tasks
from autograder.support.figures import use_file_backend

from . import TRAIN_STEPS, exact_match_accuracy, greedy_decode, train_seq2seq


def plot_loss(losses: list[float], task: str, acc: float, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(range(1, len(losses) + 1), losses, lw=0.8)
    ax.set(xlabel="step", ylabel="label-smoothed cross-entropy",
           title=f"{task}: training loss (held-out exact match {acc:.1%})")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def attention_maps(model: torch.nn.Module, src: torch.Tensor, tgt_in: torch.Tensor
                   ) -> dict[str, torch.Tensor]:
    """Per-head weights (h, L_q, L_k) of the last encoder self-attention and the last decoder
    cross-attention, captured with forward hooks on one example (src (1, S), tgt_in (1, T))."""
    maps: dict[str, torch.Tensor] = {}
    modules = {"encoder self-attention": model.encoder.layers[-1].self_attn,
               "decoder cross-attention": model.decoder.layers[-1].cross_attn}
    hooks = [m.register_forward_hook(
        lambda _m, _inputs, output, name=name: maps.__setitem__(name, output[1][0].detach()))
        for name, m in modules.items()]
    with torch.no_grad():
        model(src, tgt_in)
    for h in hooks:
        h.remove()
    return maps


def plot_attention(model: torch.nn.Module, src: torch.Tensor, path: Path) -> None:
    """Attention maps of greedy decoding's output on one source sequence src (S,)."""
    import matplotlib.pyplot as plt

    n = int((src != seq_tasks.PAD).sum())
    src = src[None, :n]  # (1, n): the real tokens only
    out = greedy_decode(model, src, n + 1, seq_tasks.BOS, seq_tasks.EOS)[0]  # (n + 1,)
    tgt_in = torch.cat([torch.tensor([seq_tasks.BOS]), out[:-1]])[None]  # (1, n + 1)
    maps = attention_maps(model, src, tgt_in)
    src_labels = seq_tasks.to_text(src[0]).split()
    in_labels = seq_tasks.to_text(tgt_in[0]).split()
    heads = next(iter(maps.values())).shape[0]
    fig, axes = plt.subplots(2, heads, figsize=(2.6 * heads, 5.4), squeeze=False)
    for row, (name, w) in enumerate(maps.items()):
        queries = src_labels if row == 0 else in_labels
        for h in range(heads):
            ax = axes[row, h]
            ax.imshow(w[h, :len(queries), :n], cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(n), src_labels)
            ax.set_yticks(range(len(queries)), queries)
            ax.set_title(f"{name}\nhead {h}", fontsize=8)
    fig.suptitle(f"reverse: {' '.join(src_labels)} -> {seq_tasks.to_text(out)}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_task(task: str, steps: int, seed: int, out: Path) -> None:
    """Train on ``task`` behind a progress bar, report held-out exact match, save figures."""
    losses: list[float] = []
    with tqdm(total=steps, desc=task, unit="step") as bar:
        def on_step(step: int, loss: float) -> None:
            losses.append(loss)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")

        start = time.perf_counter()
        model = train_seq2seq(task, seed=seed, steps=steps, on_step=on_step)
        seconds = time.perf_counter() - start
    src, tgt = seq_tasks.generate(task, 1000, seed=seed + 1)
    acc = exact_match_accuracy(model, src, tgt)
    print(f"{task}: {steps} steps in {seconds:.1f}s, held-out exact match {acc:.1%}")
    pred = greedy_decode(model, src[:3], tgt.shape[1] - 1, seq_tasks.BOS, seq_tasks.EOS)
    for s, p in zip(src[:3], pred, strict=True):
        print(f"   {seq_tasks.to_text(s):>24}  ->  {seq_tasks.to_text(p)}")
    plot_loss(losses, task, acc, out / f"{task}_loss.png")
    if task == "reverse":
        plot_attention(model, src[0], out / "reverse_attention.png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("figures"), help="folder for the PNGs")
    parser.add_argument("--tasks", nargs="+", default=list(seq_tasks.TASKS),
                        choices=seq_tasks.TASKS)
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps (default: TRAIN_STEPS of the task)")
    args = parser.parse_args(argv)
    use_file_backend(parser)
    args.out.mkdir(parents=True, exist_ok=True)
    for task in args.tasks:
        run_task(task, args.steps or TRAIN_STEPS[task], args.seed, args.out)
    print(f"wrote the figures to {args.out}/")


if __name__ == "__main__":
    main()
