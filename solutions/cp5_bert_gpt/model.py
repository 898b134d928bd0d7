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
        # BEGIN SOLUTION: qkv, heads, (cache), masked softmax, merge, proj
        hs = C // self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        q, k, v = (t.view(B, T, self.n_head, hs).transpose(1, 2) for t in (q, k, v))  # (B,nh,T,hs)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)  # (B, nh, T_past + T, hs)
            v = torch.cat([cache[1], v], dim=2)
        past = k.shape[2] - T
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (B, nh, T, T_past + T)
        if self.causal:
            rows = torch.arange(T, device=x.device).unsqueeze(1) + past  # query positions
            cols = torch.arange(k.shape[2], device=x.device).unsqueeze(0)
            att = att.masked_fill(cols > rows, float("-inf"))
        if key_padding_mask is not None:
            att = att.masked_fill(~key_padding_mask.bool()[:, None, None, :], float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)  # (B, nh, T, hs) -> (B, T, C)
        y = self.proj(y)
        return y if cache is None else (y, (k, v))
        # END SOLUTION


class MLP(nn.Module):
    """Position-wise feed-forward net: ``fc`` = nn.Linear(C, 4C), exact GELU (erf form),
    ``proj`` = nn.Linear(4C, C). x: (B, T, C) -> (B, T, C)."""

    def __init__(self, n_embd: int):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION: fc, GELU, proj
        return self.proj(F.gelu(self.fc(x)))
        # END SOLUTION


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
        # BEGIN SOLUTION: two residual branches, each on the layer-normed input
        a = self.attn(self.ln1(x), key_padding_mask, cache)
        if cache is not None:
            a, cache = a
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return x if cache is None else (x, cache)
        # END SOLUTION


def init_weights(model: nn.Module, n_layer: int) -> None:
    r"""GPT-2 initialisation, in place: every nn.Linear weight and nn.Embedding weight
    $\sim \mathcal N(0, 0.02^2)$, every bias 0, LayerNorms weight 1 bias 0; then the residual
    projections (parameters whose name ends in ``attn.proj.weight`` or ``mlp.proj.weight``)
    $\sim \mathcal N(0, (0.02 / \sqrt{2\,n\_layer})^2)$, because 2 n_layer of them add up on the
    residual stream. Draws from torch's global generator, modules in ``model.modules()`` order,
    then the projections in ``named_parameters()`` order.
    """
    # BEGIN SOLUTION: N(0, 0.02^2), zero biases, smaller std for projections
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    for name, p in model.named_parameters():
        if name.endswith(("attn.proj.weight", "mlp.proj.weight")):
            nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))
    # END SOLUTION


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
    # BEGIN SOLUTION: scale, then cut by rank (top-k) and by mass (top-p)
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must lie in (0, 1], got {top_p}")
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        probs, order = torch.softmax(logits, dim=-1).sort(dim=-1, descending=True)  # (B, V)
        before = probs.cumsum(dim=-1) - probs  # mass of the tokens sorted before each one
        drop_sorted = before >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits
    # END SOLUTION


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
        # BEGIN SOLUTION: check sizes, embeddings, blocks, ln_f, tied head, init
        if min(vocab_size, block_size, n_layer) < 1:
            raise ValueError(f"vocab_size, block_size and n_layer must be >= 1, got "
                             f"{vocab_size}, {block_size}, {n_layer}")
        check_heads(n_embd, n_head)
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, causal=True) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # tied: one tensor, two names
        init_weights(self, n_layer)
        # END SOLUTION

    def forward(self, idx: Tensor) -> Tensor:
        """idx: (B, T) int64 token ids, T <= block_size -> logits (B, T, V).

        Raises ValueError if T > block_size.
        """
        # BEGIN SOLUTION: token + position embeddings, blocks, final norm, head
        B, T = idx.shape
        if T > self.block_size:
            raise ValueError(f"sequence of length {T} exceeds block_size {self.block_size}")
        pos = torch.arange(T, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))  # (B, T, V)
        # END SOLUTION

    def forward_with_cache(self, idx: Tensor, cache: KVCache | None = None
                           ) -> tuple[Tensor, KVCache]:
        """Logits of the new tokens ``idx`` (B, T) given the keys and values of the T_past
        earlier ones: positions T_past..T_past+T-1, so ``forward_with_cache(x[:, t:], cache of
        x[:, :t])`` equals ``forward(x)[:, t:]``. ``cache``: None (nothing earlier) or the list
        returned by the previous call, one (k, v) per block, each (B, nh, T_past, hs).
        Returns (logits (B, T, V), the grown cache). ValueError if T_past + T > block_size.
        """
        # BEGIN SOLUTION: positions from T_past, each block with its cache
        B, T = idx.shape
        past = 0 if not cache else cache[0][0].shape[2]
        if past + T > self.block_size:
            raise ValueError(f"{past} cached + {T} new positions exceed block_size "
                             f"{self.block_size}")
        if not cache:
            nh = self.blocks[0].attn.n_head
            empty = self.tok_emb.weight.new_zeros(B, nh, 0, self.tok_emb.weight.shape[1] // nh)
            cache = [(empty, empty)] * len(self.blocks)
        pos = torch.arange(past, past + T, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)  # (B, T, C)
        new_cache = []
        for block, layer_cache in zip(self.blocks, cache, strict=True):
            x, layer_cache = block(x, cache=tuple(layer_cache))
            new_cache.append(layer_cache)
        return self.lm_head(self.ln_f(x)), new_cache
        # END SOLUTION

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
        # BEGIN SOLUTION: logits at the last position, filter, sample, append
        if idx.ndim != 2 or idx.shape[1] == 0 or idx.shape[1] > self.block_size:
            raise ValueError(f"prompt must be (B, T0) with 1 <= T0 <= block_size "
                             f"{self.block_size}, got shape {tuple(idx.shape)}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        self.eval()
        gen = None
        if seed is not None:
            gen = torch.Generator(device=idx.device).manual_seed(seed)
        cache: KVCache | None = None
        for step in range(max_new_tokens):
            if use_cache and idx.shape[1] <= self.block_size:
                new = idx if step == 0 else idx[:, -1:]
                logits, cache = self.forward_with_cache(new, cache)
            else:
                logits = self(idx[:, -self.block_size:])
            logits = filter_logits(logits[:, -1, :], temperature, top_k, top_p)  # (B, V)
            probs = torch.softmax(logits, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=gen)  # (B, 1)
            idx = torch.cat([idx, nxt], dim=1)
        return idx
        # END SOLUTION
