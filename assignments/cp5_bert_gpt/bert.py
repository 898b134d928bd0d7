"""MiniBERT: a bidirectional encoder trained by masked language modelling, then fine-tuned.

Shapes: B batch, T sequence length (<= max_len), C = n_embd, V = vocab_size. ``input_ids``
(B, T) int64; ``segment_ids`` (B, T) int64 in [0, n_segments) (None: all 0);
``attention_mask`` (B, T) bool, True at real tokens and False at padding (None: all True).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: F401 (used in the solution)
from torch import Tensor, nn

from .model import Block, check_heads, init_weights  # noqa: F401 (used in the solution)
from .training import clip_model_gradients, configure_optimizer, lr_at  # noqa: F401 (used in the solution)

IGNORE_INDEX = -100


class MiniBERT(nn.Module):
    """BERT encoder with a masked-language-model head and a [CLS] classification head.

    Parameters (names graded): ``tok_emb`` nn.Embedding(V, C), ``pos_emb``
    nn.Embedding(max_len, C), ``seg_emb`` nn.Embedding(n_segments, C), ``emb_ln``
    nn.LayerNorm(C); ``blocks``: nn.ModuleList of n_layer bidirectional :class:`Block`
    (``causal=False``); ``ln_f`` nn.LayerNorm(C); MLM head ``mlm_dense`` nn.Linear(C, C),
    ``mlm_ln`` nn.LayerNorm(C), ``mlm_bias`` nn.Parameter (V,) zeros, decoding with the token
    embedding matrix (tied, no separate weight); ``cls_head`` nn.Linear(C, n_classes).
    Initialised with :func:`init_weights`. ValueError for a size < 1 or n_head not dividing C.
    """

    def __init__(self, vocab_size: int, max_len: int, n_layer: int = 2, n_head: int = 2,
                 n_embd: int = 32, n_segments: int = 2, n_classes: int = 2):
        super().__init__()
        self.vocab_size, self.max_len = vocab_size, max_len
        raise NotImplementedError("TODO: check sizes; three embeddings, emb_ln, blocks, heads")

    def forward(self, input_ids: Tensor, segment_ids: Tensor | None = None,
                attention_mask: Tensor | None = None) -> Tensor:
        """Hidden states (B, T, C): ``emb_ln(tok + pos + seg)``, the blocks (padding keys masked
        out of attention by ``attention_mask``), then ``ln_f``. ValueError if T > max_len."""
        raise NotImplementedError("TODO: embed, emb_ln, blocks with the padding mask, ln_f")

    def mlm_logits(self, input_ids: Tensor, segment_ids: Tensor | None = None,
                   attention_mask: Tensor | None = None) -> Tensor:
        """Masked-LM logits (B, T, V): h = forward(...), then
        ``mlm_ln(gelu(mlm_dense(h))) @ tok_emb.weight.T + mlm_bias`` (exact GELU)."""
        raise NotImplementedError("TODO: transform, then decode with the tied embedding matrix")

    def classify(self, input_ids: Tensor, segment_ids: Tensor | None = None,
                 attention_mask: Tensor | None = None) -> Tensor:
        """Class logits (B, n_classes): ``cls_head`` of the hidden state at position 0 ([CLS])."""
        raise NotImplementedError("TODO: the first position's hidden state through the head")


def mask_tokens(input_ids: Tensor, mask_id: int, vocab_size: int, special_ids: list[int],
                mlm_prob: float = 0.15, generator: torch.Generator | None = None
                ) -> tuple[Tensor, Tensor]:
    """BERT's masked-LM corruption of a batch ``input_ids`` (B, T) int64.

    Choose each position independently with probability ``mlm_prob``, never one holding a
    special id (padding, [CLS], [SEP], [MASK], ...). Each chosen position independently becomes
    ``mask_id`` with probability 0.8, a random token with probability 0.1 (uniform over the ids
    in [0, vocab_size) that are not special), and stays unchanged otherwise. Draw with
    ``torch.rand``/``torch.randint`` and ``generator``.
    Returns (corrupted ids (B, T), labels (B, T)): labels hold the original id at chosen
    positions and -100 everywhere else. ``input_ids`` is left unchanged.
    Raises ValueError unless 0 < mlm_prob < 1.
    """
    raise NotImplementedError("TODO: choose, then split the chosen 80 / 10 / 10")


def mlm_accuracy(logits: Tensor, labels: Tensor) -> float:
    """Fraction of labelled positions (label != -100) whose arg-max logit is the label.
    logits (B, T, V), labels (B, T). Returns a float (0.0 when nothing is labelled)."""
    raise NotImplementedError("TODO: arg-max where labelled, compare, average")


def train_bert_mlm(ids: Tensor, vocab_size: int, mask_id: int, pad_id: int,
                   special_ids: list[int], *, seed: int = 0, steps: int = 300,
                   batch_size: int = 64, n_layer: int = 2, n_head: int = 2, n_embd: int = 48,
                   max_lr: float = 3e-3, warmup_steps: int = 20, weight_decay: float = 0.01,
                   on_step: Callable[[int, float], None] | None = None) -> MiniBERT:
    """Pre-train a :class:`MiniBERT` (max_len = ids.shape[1]) by masked language modelling on
    the padded sentences ``ids`` (N, T) and return it in eval mode.

    Seed torch with ``seed``; :func:`~.training.configure_optimizer`; then ``steps`` times: a
    batch of ``batch_size`` rows drawn uniformly with replacement, :func:`mask_tokens`, the
    cross-entropy of :meth:`MiniBERT.mlm_logits` (attention_mask ``ids != pad_id``) on the
    labelled positions, backward, clipping to norm 1, a step with the learning rate
    :func:`~.training.lr_at` (cosine to max_lr / 10); ``on_step(step, loss)`` if given.
    """
    raise NotImplementedError("TODO: the usual loop, with the corruption in each batch")


def finetune_classifier(model: MiniBERT, ids: Tensor, labels: Tensor, pad_id: int, *,
                        seed: int = 0, steps: int = 200, batch_size: int = 64,
                        max_lr: float = 3e-3, warmup_steps: int = 20,
                        weight_decay: float = 0.01,
                        on_step: Callable[[int, float], None] | None = None) -> MiniBERT:
    """Fine-tune every parameter of ``model`` (pre-trained or fresh) to classify the padded
    sentences ``ids`` (N, T) into ``labels`` (N,) with :meth:`MiniBERT.classify`; return it in
    eval mode.

    Seed torch with ``seed``; :func:`~.training.configure_optimizer`; ``steps`` times: a batch
    of rows drawn uniformly with replacement, the cross-entropy of the class logits
    (attention_mask ``ids != pad_id``), backward, clipping to norm 1, a step with the learning
    rate :func:`~.training.lr_at` (cosine to max_lr / 10); ``on_step(step, loss)`` if given.
    """
    raise NotImplementedError("TODO: the usual loop on the classification loss")


def train_bert_classifier(ids: Tensor, labels: Tensor, vocab_size: int, pad_id: int, *,
                          seed: int = 0, steps: int = 200, n_layer: int = 2, n_head: int = 2,
                          n_embd: int = 48, **finetune_kwargs) -> MiniBERT:
    """A fresh :class:`MiniBERT` (seeded with ``seed``) fine-tuned by
    :func:`finetune_classifier` (given)."""
    torch.manual_seed(seed)
    model = MiniBERT(vocab_size, ids.shape[1], n_layer, n_head, n_embd)
    return finetune_classifier(model, ids, labels, pad_id, seed=seed, steps=steps,
                               **finetune_kwargs)
