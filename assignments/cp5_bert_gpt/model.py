"""miniGPT: a decoder-only Transformer language model, written from scratch (nanoGPT's layout).

Shapes: B batch, T sequence length (<= block_size), C = n_embd, nh = n_head, hs = C // nh,
V = vocab_size. Parameter names are graded (tests load the reference's weights by
``state_dict`` key), so keep the attribute names given in the docstrings.
"""

from __future__ import annotations

import math  # noqa: F401 (used in the solution)

import torch
import torch.nn.functional as F  # noqa: F401 (used in the solution)
from torch import Tensor, nn

KVCache = list[tuple[Tensor, Tensor]]  # one (k, v) per block, each (B, nh, T_past, hs)


def check_heads(n_embd: int, n_head: int) -> None:
    """ValueError unless n_embd and n_head are positive and n_head divides n_embd (given)."""
    if n_embd < 1 or n_head < 1 or n_embd % n_head:
        raise ValueError(f"n_embd ({n_embd}) must be a positive multiple of n_head ({n_head})")


class SelfAttention(nn.Module):
    r"""Multi-head self-attention, causal (GPT) or bidirectional with a padding mask (BERT).

    Parameters: ``qkv`` = nn.Linear(C, 3C) (rows: the queries, then keys, then values) and
    ``proj`` = nn.Linear(C, C). For input x (B, T, C): $[Q, K, V] = x W_{qkv}^\top + b$, each
    split into nh heads (B, nh, T, hs); per head

    $$\mathrm{att} = \mathrm{softmax}\Big(\frac{Q K^\top}{\sqrt{hs}} + M\Big) V,$$

    heads concatenated back to (B, T, C) and passed through ``proj``. The mask M is
    $-\infty$ where query t may not look at key s: s > t when ``causal`` (positions count from
    the start of the cache, if any), and every padding key (``key_padding_mask`` (B, T) False)
    otherwise 0. No dropout.
    """

    def __init__(self, n_embd: int, n_head: int, causal: bool = True):
        super().__init__()
        check_heads(n_embd, n_head)
        self.n_head, self.causal = n_head, causal
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None,
                cache: tuple[Tensor, Tensor] | None = None
                ) -> Tensor | tuple[Tensor, tuple[Tensor, Tensor]]:
        """x: (B, T, C) -> (B, T, C).

        key_padding_mask: optional (B, T) bool, True at real tokens (only without a cache).
        cache: optional (k, v) of the earlier positions, each (B, nh, T_past, hs), T_past >= 0.
        With a cache, x holds the T new positions (T_past..T_past+T-1), their keys and values
        are appended to the cache's, and the call returns ``(y, (k, v))`` with the grown cache,
        each (B, nh, T_past + T, hs); without one it returns y alone.
        """
        B, T, C = x.shape
        raise NotImplementedError("TODO: qkv, heads, (cache), masked softmax, merge, proj")


class MLP(nn.Module):
    """Position-wise feed-forward net: ``fc`` = nn.Linear(C, 4C), exact GELU (erf form),
    ``proj`` = nn.Linear(4C, C). x: (B, T, C) -> (B, T, C)."""

    def __init__(self, n_embd: int):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError("TODO: fc, GELU, proj")


class Block(nn.Module):
    r"""Pre-norm Transformer block: $x + \mathrm{attn}(\mathrm{ln1}(x))$, then
    $x + \mathrm{mlp}(\mathrm{ln2}(x))$. Parameters ``ln1``, ``attn`` (:class:`SelfAttention`),
    ``ln2`` (nn.LayerNorm(C) both), ``mlp`` (:class:`MLP`)."""

    def __init__(self, n_embd: int, n_head: int, causal: bool = True):
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = SelfAttention(n_embd, n_head, causal)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None,
                cache: tuple[Tensor, Tensor] | None = None
                ) -> Tensor | tuple[Tensor, tuple[Tensor, Tensor]]:
        """x: (B, T, C) -> (B, T, C); with ``cache``, returns ``(x, new_cache)`` as
        :meth:`SelfAttention.forward` does."""
        raise NotImplementedError("TODO: two residual branches, each on the layer-normed input")


def init_weights(model: nn.Module, n_layer: int) -> None:
    r"""GPT-2 initialisation, in place: every nn.Linear weight and nn.Embedding weight
    $\sim \mathcal N(0, 0.02^2)$, every bias 0, LayerNorms weight 1 bias 0; then the residual
    projections (parameters whose name ends in ``attn.proj.weight`` or ``mlp.proj.weight``)
    $\sim \mathcal N(0, (0.02 / \sqrt{2\,n\_layer})^2)$, because 2 n_layer of them add up on the
    residual stream. Draws from torch's global generator, modules in ``model.modules()`` order,
    then the projections in ``named_parameters()`` order.
    """
    raise NotImplementedError("TODO: N(0, 0.02^2), zero biases, smaller std for projections")


def filter_logits(logits: Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> Tensor:
    r"""Next-token logits (B, V) turned into the logits to sample from, (B, V).

    In this order: divide by ``temperature`` (> 0); if ``top_k`` is given, set every logit
    below the k-th largest of its row to $-\infty$ (ties at the k-th value are kept); if
    ``top_p`` is given (0 < p <= 1), sort each row's probabilities (softmax of the logits so
    far) in decreasing order and keep a token iff the total probability of the tokens sorted
    before it is < p (so the token that crosses p is kept, and the most likely token always
    is), setting the rest to $-\infty$.

    Raises ValueError if temperature <= 0, top_k < 1 or top_p outside (0, 1].
    """
    raise NotImplementedError("TODO: scale, then cut by rank (top-k) and by mass (top-p)")


class MiniGPT(nn.Module):
    """GPT language model: ``tok_emb`` = nn.Embedding(V, C), ``pos_emb`` =
    nn.Embedding(block_size, C), ``blocks`` = nn.ModuleList of n_layer causal :class:`Block`,
    ``ln_f`` = nn.LayerNorm(C), ``lm_head`` = nn.Linear(C, V, bias=False) whose weight IS
    ``tok_emb.weight`` (tied: one Parameter, shared storage). Initialised with
    :func:`init_weights`. Raises ValueError for a size < 1 or n_head not dividing n_embd.
    """

    def __init__(self, vocab_size: int, block_size: int, n_layer: int = 2, n_head: int = 2,
                 n_embd: int = 32):
        super().__init__()
        self.vocab_size, self.block_size, self.n_layer = vocab_size, block_size, n_layer
        raise NotImplementedError("TODO: check sizes, embeddings, blocks, ln_f, tied head, init")

    def forward(self, idx: Tensor) -> Tensor:
        """idx: (B, T) int64 token ids, T <= block_size -> logits (B, T, V).

        Raises ValueError if T > block_size.
        """
        raise NotImplementedError("TODO: token + position embeddings, blocks, final norm, head")

    def forward_with_cache(self, idx: Tensor, cache: KVCache | None = None
                           ) -> tuple[Tensor, KVCache]:
        """Logits of the new tokens ``idx`` (B, T) given the keys and values of the T_past
        earlier ones: positions T_past..T_past+T-1, so ``forward_with_cache(x[:, t:], cache of
        x[:, :t])`` equals ``forward(x)[:, t:]``. ``cache``: None (nothing earlier) or the list
        returned by the previous call, one (k, v) per block, each (B, nh, T_past, hs).
        Returns (logits (B, T, V), the grown cache). ValueError if T_past + T > block_size.
        """
        raise NotImplementedError("TODO: positions from T_past, each block with its cache")

    @torch.no_grad()
    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, use_cache: bool = True,
                 seed: int | None = None) -> Tensor:
        """Append ``max_new_tokens`` sampled tokens to the prompt ``idx`` (B, T0), return
        (B, T0 + max_new_tokens).

        Each step: the logits at the last position of the last ``block_size`` tokens, passed
        through :func:`filter_logits`, softmax, one draw per row with ``torch.multinomial``
        using a ``torch.Generator`` seeded with ``seed`` (torch's global generator if None).
        With ``use_cache``, the prompt is run once through :meth:`forward_with_cache` and each
        step feeds only the new token; when the sequence outgrows ``block_size``, it falls back
        to a full :meth:`forward` of the last ``block_size`` tokens, so the result never depends
        on ``use_cache``. Puts the model in eval mode.

        Raises ValueError if T0 is 0 or exceeds block_size, or max_new_tokens < 0.
        """
        raise NotImplementedError("TODO: logits at the last position, filter, sample, append")
