"""Train miniGPT on Wikipedia and MiniBERT on the sentiment grammar; save figures, print samples.

Run from the folder that holds the package (the same script works on your copy)::

    python -m cp5_bert_gpt.train --out figures            # 10-20 minutes on a laptop CPU
    python -m cp5_bert_gpt.train --out figures --quick    # a few minutes, rougher results

It trains a character-level miniGPT with your ``train_gpt`` (a progress bar shows the loss),
evaluates it on held-out text, prints samples at three settings of temperature and top-p, then
pre-trains MiniBERT with your ``train_bert_mlm``, prints its guesses for masked words, and
fine-tunes a classifier with ``train_bert_classifier``. Writes ``gpt_loss.png`` (training loss
per step, the final validation loss and the unigram baseline), ``bert_mlm_loss.png`` and
``bert_finetune_loss.png`` to ``--out``. Needs matplotlib.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from autograder.support import corpora
from autograder.support.figures import use_file_backend

from . import (
    CharTokenizer,
    evaluate,
    mask_tokens,
    mlm_accuracy,
    train_bert_classifier,
    train_bert_mlm,
    train_gpt,
)


def plot_curves(curves: dict[str, tuple[list[int], list[float]]], path: Path, title: str,
                baseline: tuple[str, float] | None = None) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (xs, ys) in curves.items():
        ax.plot(xs, ys, label=label, marker="o" if len(xs) < 40 else None)
    if baseline is not None:
        ax.axhline(baseline[1], color="gray", linestyle="--", label=baseline[0])
    ax.set(xlabel="step", ylabel="cross-entropy (nats)", title=title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def unigram_entropy(ids: torch.Tensor, vocab_size: int) -> float:
    p = torch.bincount(ids, minlength=vocab_size).double()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log()).sum())


def run_gpt(args: argparse.Namespace) -> None:
    text = corpora.wikipedia_text(args.chars)
    tok = CharTokenizer(text)
    ids = torch.tensor(tok.encode(text))
    split = int(0.9 * len(ids))
    train, val = ids[:split], ids[split:]
    config = {"block_size": 64, "n_layer": 4, "n_head": 4, "n_embd": 128, "batch_size": 32}
    if args.quick:
        config = {"block_size": 32, "n_layer": 2, "n_head": 2, "n_embd": 48, "batch_size": 32}
    train_curve: tuple[list[int], list[float]] = ([], [])
    val_curve: tuple[list[int], list[float]] = ([], [])
    every = max(1, args.gpt_steps // 10)
    start = time.perf_counter()
    with tqdm(total=args.gpt_steps, desc="miniGPT on Wikipedia", unit="step") as bar:
        def on_step(step: int, loss: float) -> None:
            train_curve[0].append(step)
            train_curve[1].append(loss)
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
            bar.update()

        model = train_gpt(train, tok.vocab_size, seed=args.seed, steps=args.gpt_steps,
                          on_step=on_step, **config)
    seconds = time.perf_counter() - start
    val_loss = evaluate(model, val[:50_000], config["block_size"])["loss"]
    val_curve[0].append(args.gpt_steps - 1)
    val_curve[1].append(val_loss)
    baseline = unigram_entropy(train, tok.vocab_size)
    print(f"miniGPT: {args.gpt_steps} steps in {seconds:.0f}s; validation loss {val_loss:.3f} "
          f"nats/char (perplexity {math.exp(val_loss):.2f}); unigram baseline {baseline:.3f}")
    smooth = [sum(train_curve[1][max(0, i - every):i + 1]) / (i + 1 - max(0, i - every))
              for i in range(len(train_curve[1]))]
    plot_curves({"training (running mean)": (train_curve[0], smooth),
                 "validation": val_curve}, args.out / "gpt_loss.png",
                "miniGPT, characters of Wikipedia", ("unigram entropy", baseline))
    prompt = torch.tensor([tok.encode("The history of ")])
    for temperature, top_p in ((0.5, None), (1.0, 0.9), (1.0, None)):
        out = model.generate(prompt, 200, temperature=temperature, top_p=top_p, seed=args.seed)
        print(f"\n--- sample, temperature {temperature}, top_p {top_p} ---")
        print(tok.decode(out[0].tolist()))


def run_bert(args: argparse.Namespace) -> None:
    task = corpora.sentiment_task(4000, seed=args.seed)
    test = corpora.sentiment_task(1000, seed=args.seed + 1)
    vocab = task.vocab
    losses: list[float] = []
    with tqdm(total=args.bert_steps, desc="MiniBERT masked LM", unit="step") as bar:
        def on_step(step: int, loss: float) -> None:
            losses.append(loss)
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
            bar.update()

        bert = train_bert_mlm(task.ids, len(vocab), task.mask_id, task.pad_id, task.special_ids,
                              seed=args.seed, steps=args.bert_steps, on_step=on_step)
    plot_curves({"MLM loss": (list(range(len(losses))), losses)},
                args.out / "bert_mlm_loss.png", "MiniBERT masked-LM pre-training")
    gen = torch.Generator().manual_seed(args.seed)
    inputs, labels = mask_tokens(test.ids, test.mask_id, len(vocab), test.special_ids,
                                 generator=gen)
    with torch.no_grad():
        logits = bert.mlm_logits(inputs, attention_mask=test.ids != test.pad_id)
    print(f"\nMLM accuracy on held-out sentences: {mlm_accuracy(logits, labels):.3f}")
    print("masked-word predictions (top 3):")
    for row in range(5):
        ids = test.ids[row].clone()
        n = int((ids != test.pad_id).sum())
        position = 2 + row % (n - 3)  # a word between [CLS] and [SEP]
        ids[position] = test.mask_id
        with torch.no_grad():
            probs = torch.softmax(bert.mlm_logits(ids[None, :n])[0, position], dim=-1)
        top = probs.topk(3)
        words = [vocab[int(i)] for i in ids[1:n - 1]]
        guesses = ", ".join(f"{vocab[int(i)]} {float(p):.2f}" for p, i in zip(*top, strict=True))
        print(f"  {' '.join(words):45s} -> {guesses}")

    ft_losses: list[float] = []
    with tqdm(total=args.bert_steps, desc="MiniBERT fine-tuning", unit="step") as bar:
        def on_ft_step(step: int, loss: float) -> None:
            ft_losses.append(loss)
            bar.update()

        clf = train_bert_classifier(task.ids, task.labels, len(vocab), task.pad_id,
                                    seed=args.seed, steps=args.bert_steps, on_step=on_ft_step)
    with torch.no_grad():
        pred = clf.classify(test.ids, attention_mask=test.ids != test.pad_id).argmax(dim=-1)
    print(f"sentiment accuracy on held-out sentences: "
          f"{float((pred == test.labels).double().mean()):.3f}")
    plot_curves({"classification loss": (list(range(len(ft_losses))), ft_losses)},
                args.out / "bert_finetune_loss.png", "MiniBERT fine-tuning on sentiment")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("figures"), help="folder for the PNGs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small models, few steps")
    parser.add_argument("--chars", type=int, default=1_000_000, help="Wikipedia characters")
    args = parser.parse_args(argv)
    use_file_backend(parser)
    args.gpt_steps = 300 if args.quick else 2000
    args.bert_steps = 200 if args.quick else 400
    args.out.mkdir(parents=True, exist_ok=True)
    run_gpt(args)
    run_bert(args)
    print(f"\nwrote the figures to {args.out}/")


if __name__ == "__main__":
    main()
