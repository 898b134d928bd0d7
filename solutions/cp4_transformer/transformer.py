"""The Transformer of "Attention Is All You Need" (Vaswani et al., 2017), written from scratch.

Shapes: B batch, S source length, T target length, L any sequence length, d = ``d_model``,
h = ``num_heads``, d_k = d / h per head, V a vocabulary size, ``...`` any leading dimensions.

Masks follow one convention everywhere: a **boolean** mask is True where attention is
*allowed* (a query may look at that key) and False where it is blocked; a **floating** mask is
added to the attention scores (0 keeps a key, ``-inf`` blocks it). Masks broadcast against the
scores (..., L_q, L_k): a padding mask is (B, 1, 1, S), the causal mask (T, T).

Parameter names are graded: the tests load the reference's weights into your modules with
``load_state_dict``, so every submodule and parameter must have exactly the name its docstring
gives.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

POSITIONAL = ("sinusoidal", "learned", "none")


def padding_mask(tokens: Tensor, pad_id: int) -> Tensor:
    """Boolean key mask (B, 1, 1, L) that is True at the real tokens and False at ``pad_id``.

    tokens: (B, L) int64. The two singleton axes broadcast over the heads and the queries.
    """
    # BEGIN SOLUTION: compare with pad_id, then add the head and query axes
    return (tokens != pad_id)[:, None, None, :]  # (B, 1, 1, L)
    # END SOLUTION


def causal_mask(length: int, device: torch.device | str | None = None) -> Tensor:
    """Boolean (length, length) mask, True on and below the diagonal: query i may attend to
    keys j <= i only (no peeking at later target tokens)."""
    # BEGIN SOLUTION: a lower-triangular matrix of True
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()
    # END SOLUTION


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
                                 dropout_p: float = 0.0) -> tuple[Tensor, Tensor]:
    r"""Attention$(Q, K, V) = \mathrm{softmax}(Q K^\top / \sqrt{d_k} + M)\, V$.

    q: (..., L_q, d_k); k: (..., L_k, d_k); v: (..., L_k, d_v). The leading dimensions of q, k
    and v broadcast. mask: None, a bool tensor (True = may attend) or a floating tensor added
    to the scores; either way it must broadcast to the scores' shape (..., L_q, L_k) without
    enlarging it. A query row whose keys are *all* blocked (every mask entry False, or every
    score -inf) gets zero weights and a zero output, never NaN.

    dropout_p: if > 0, each weight is zeroed with probability ``dropout_p`` and the kept ones
    are divided by 1 - dropout_p (inverted dropout, as ``F.dropout``) before multiplying V.
    Returns ``(output (..., L_q, d_v), weights (..., L_q, L_k))`` where ``weights`` are the
    softmax probabilities *before* dropout (each unblocked row sums to one).

    Raises ValueError if q and k differ in d_k, k and v differ in L_k, the mask does not
    broadcast to (..., L_q, L_k), the mask is neither bool nor floating, or dropout_p is outside
    [0, 1).
    """
    # BEGIN SOLUTION: check shapes; scale, mask, softmax (dead rows 0), dropout
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention needs q (..., Lq, dk), k (..., Lk, dk), v (..., Lk, dv); "
                         f"got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5  # (..., Lq, Lk)
    if mask is not None:
        try:
            fits = torch.broadcast_shapes(mask.shape, scores.shape) == scores.shape
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the "
                             f"attention scores {tuple(scores.shape)}")
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        elif mask.is_floating_point():
            scores = scores + mask
        else:
            raise ValueError(f"mask must be bool or floating point, got {mask.dtype}")
    dead = torch.isneginf(scores).all(dim=-1, keepdim=True)  # (..., Lq, 1): no key to attend
    weights = torch.softmax(scores.masked_fill(dead, 0.0), dim=-1).masked_fill(dead, 0.0)
    attn = nn.functional.dropout(weights, dropout_p) if dropout_p > 0 else weights
    return attn @ v, weights  # (..., Lq, dv), (..., Lq, Lk)
    # END SOLUTION


class MultiHeadAttention(nn.Module):
    r"""Multi-head attention: $\mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_h) W^O$ with
    $\mathrm{head}_i = \mathrm{Attention}(Q W_i^Q, K W_i^K, V W_i^V)$.

    Submodules (graded names), all ``nn.Linear(d_model, d_model, bias=bias)``:
    ``q_proj``, ``k_proj``, ``v_proj`` (the h heads' projections side by side: head i uses
    output features i*d_k .. (i+1)*d_k - 1) and ``out_proj`` ($W^O$). ``dropout`` is the
    attention-weight dropout probability, applied only in training mode.
    Raises ValueError if d_model is not divisible by num_heads (or either is < 1).
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        # BEGIN SOLUTION: check the sizes, then four linear layers
        if d_model < 1 or num_heads < 1 or d_model % num_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be a positive multiple of num_heads "
                             f"({num_heads})")
        self.d_model, self.num_heads, self.d_k = d_model, num_heads, d_model // num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        # END SOLUTION

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """query (B, L_q, d), key and value (B, L_k, d); mask broadcastable to (B, h, L_q, L_k).

        Returns ``(output (B, L_q, d), weights (B, h, L_q, L_k))``, the weights per head.
        Raises ValueError if the inputs' last dimension is not d_model (and, through
        :func:`scaled_dot_product_attention`, for a mask that does not broadcast).
        """
        # BEGIN SOLUTION: project, split into heads, attend, merge heads, project
        if not query.shape[-1] == key.shape[-1] == value.shape[-1] == self.d_model:
            raise ValueError(f"inputs must end in d_model={self.d_model}, got query "
                             f"{tuple(query.shape)}, key {tuple(key.shape)}, value "
                             f"{tuple(value.shape)}")
        B, Lq, Lk = query.shape[0], query.shape[1], key.shape[1]
        q = self.q_proj(query).view(B, Lq, self.num_heads, self.d_k).transpose(1, 2)  # (B,h,Lq,dk)
        k = self.k_proj(key).view(B, Lk, self.num_heads, self.d_k).transpose(1, 2)  # (B,h,Lk,dk)
        v = self.v_proj(value).view(B, Lk, self.num_heads, self.d_k).transpose(1, 2)  # (B,h,Lk,dk)
        out, weights = scaled_dot_product_attention(
            q, k, v, mask, self.dropout if self.training else 0.0)  # (B, h, Lq, dk)
        out = out.transpose(1, 2).reshape(B, Lq, self.d_model)  # (B, Lq, d)
        return self.out_proj(out), weights
        # END SOLUTION


class LayerNorm(nn.Module):
    r"""Layer normalisation over the last dimension:
    $y = (x - \mu) / \sqrt{\sigma^2 + \epsilon} \cdot \gamma + \beta$, with $\mu$ and the
    *biased* variance $\sigma^2$ of x's last dimension.

    Parameters (graded names): ``weight`` $\gamma$ (d,) initialised to ones, ``bias`` $\beta$
    (d,) initialised to zeros. x: (..., d) -> (..., d).
    """

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        # BEGIN SOLUTION: gamma = ones, beta = zeros
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION: mean and biased variance over the last dim
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = (x - mean).pow(2).mean(dim=-1, keepdim=True)  # (..., 1), biased
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
        # END SOLUTION


class FeedForward(nn.Module):
    r"""Position-wise feed-forward network $\mathrm{FFN}(x) = \max(0, x W_1^\top + b_1) W_2^\top
    + b_2$, with dropout on the hidden ReLU activations (training mode only).

    Submodules (graded names): ``linear1`` = ``nn.Linear(d_model, d_ff)``, ``linear2`` =
    ``nn.Linear(d_ff, d_model)``. x: (..., d) -> (..., d).
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        # BEGIN SOLUTION
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION: linear1, ReLU, dropout, linear2
        return self.linear2(self.dropout(torch.relu(self.linear1(x))))
        # END SOLUTION


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> Tensor:
    r"""The paper's fixed positional encodings, a (max_len, d_model) float32 table:

    $PE_{p, 2i} = \sin(p / 10000^{2i/d})$ and $PE_{p, 2i+1} = \cos(p / 10000^{2i/d})$ for
    positions p = 0..max_len-1 and i = 0..d/2-1. Raises ValueError if d_model is odd or < 2,
    or max_len < 1.
    """
    # BEGIN SOLUTION: angles p / 10000^(2i/d), sin on even columns, cos on odd ones
    if d_model < 2 or d_model % 2 or max_len < 1:
        raise ValueError(f"need an even d_model >= 2 and max_len >= 1, got d_model={d_model}, "
                         f"max_len={max_len}")
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]  # (max_len, 1)
    inv_freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d/2,)
    angle = pos * inv_freq  # (max_len, d/2)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.float()
    # END SOLUTION


class PositionalEncoding(nn.Module):
    """Adds a position's vector to each token vector: x (B, L, d) -> x + pe[:L].

    ``kind="sinusoidal"``: ``pe`` is :func:`sinusoidal_positional_encoding` registered as a
    non-persistent buffer (``register_buffer("pe", ..., persistent=False)``, so it is not in
    the state dict). ``kind="learned"``: ``pe`` is an ``nn.Parameter`` (max_len, d) drawn from
    N(0, 0.02^2). Raises ValueError for another kind, and in ``forward`` if L > max_len.
    """

    def __init__(self, d_model: int, max_len: int, kind: str = "sinusoidal"):
        super().__init__()
        # BEGIN SOLUTION: a fixed buffer or a learned parameter, both named pe
        if kind == "sinusoidal":
            self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model),
                                 persistent=False)
        elif kind == "learned":
            self.pe = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        else:
            raise ValueError(f"kind must be 'sinusoidal' or 'learned', got {kind!r}")
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION: check the length, add the first L rows
        if x.shape[1] > self.pe.shape[0]:
            raise ValueError(f"sequence of length {x.shape[1]} is longer than the positional "
                             f"table (max_len={self.pe.shape[0]})")
        return x + self.pe[: x.shape[1]]  # (B, L, d) + (L, d)
        # END SOLUTION


class EncoderLayer(nn.Module):
    r"""Self-attention then feed-forward, each wrapped in a residual connection.

    Post-norm (the paper, ``norm_first=False``):
    $x \leftarrow \mathrm{LN}_1(x + \mathrm{Drop}(\mathrm{SelfAttn}(x)))$,
    $x \leftarrow \mathrm{LN}_2(x + \mathrm{Drop}(\mathrm{FFN}(x)))$.
    Pre-norm (``norm_first=True``):
    $x \leftarrow x + \mathrm{Drop}(\mathrm{SelfAttn}(\mathrm{LN}_1(x)))$,
    $x \leftarrow x + \mathrm{Drop}(\mathrm{FFN}(\mathrm{LN}_2(x)))$.

    Submodules (graded names): ``self_attn`` (:class:`MultiHeadAttention` with attention
    dropout ``dropout``), ``ff`` (:class:`FeedForward`), ``norm1``, ``norm2``
    (:class:`LayerNorm`), ``dropout`` (``nn.Dropout`` on the sublayer outputs).
    forward(x (B, L, d), mask broadcastable to (B, h, L, L)) -> (B, L, d).
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False):
        super().__init__()
        # BEGIN SOLUTION
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.norm1 = LayerNorm(d_model)
        self.norm2 = LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        # END SOLUTION

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        # BEGIN SOLUTION: two residual sublayers, post-norm or pre-norm
        if self.norm_first:
            h = self.norm1(x)
            x = x + self.dropout(self.self_attn(h, h, h, mask)[0])
            return x + self.dropout(self.ff(self.norm2(x)))
        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, mask)[0]))
        return self.norm2(x + self.dropout(self.ff(x)))
        # END SOLUTION


class DecoderLayer(nn.Module):
    r"""Masked self-attention, cross-attention to the encoder output, then feed-forward, each
    a residual sublayer as in :class:`EncoderLayer` (post-norm by default, pre-norm with
    ``norm_first=True``). Post-norm:
    $y \leftarrow \mathrm{LN}_1(y + \mathrm{Drop}(\mathrm{SelfAttn}(y; \text{tgt\_mask})))$,
    $y \leftarrow \mathrm{LN}_2(y + \mathrm{Drop}(\mathrm{Attn}(y, m, m; \text{memory\_mask})))$,
    $y \leftarrow \mathrm{LN}_3(y + \mathrm{Drop}(\mathrm{FFN}(y)))$, m the encoder output
    (memory). Pre-norm normalises only the query side: $y + \mathrm{Drop}(\mathrm{Attn}(
    \mathrm{LN}_2(y), m, m))$.

    Submodules (graded names): ``self_attn``, ``cross_attn`` (:class:`MultiHeadAttention`),
    ``ff``, ``norm1``, ``norm2``, ``norm3``, ``dropout``.
    forward(y (B, T, d), memory (B, S, d), tgt_mask broadcastable to (B, h, T, T),
    memory_mask broadcastable to (B, h, T, S)) -> (B, T, d).
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False):
        super().__init__()
        # BEGIN SOLUTION
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.norm1 = LayerNorm(d_model)
        self.norm2 = LayerNorm(d_model)
        self.norm3 = LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        # END SOLUTION

    def forward(self, y: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None) -> Tensor:
        # BEGIN SOLUTION: self-attention on y, cross-attention to memory
        if self.norm_first:
            h = self.norm1(y)
            y = y + self.dropout(self.self_attn(h, h, h, tgt_mask)[0])
            h = self.norm2(y)
            y = y + self.dropout(self.cross_attn(h, memory, memory, memory_mask)[0])
            return y + self.dropout(self.ff(self.norm3(y)))
        y = self.norm1(y + self.dropout(self.self_attn(y, y, y, tgt_mask)[0]))
        y = self.norm2(y + self.dropout(self.cross_attn(y, memory, memory, memory_mask)[0]))
        return self.norm3(y + self.dropout(self.ff(y)))
        # END SOLUTION


class Encoder(nn.Module):
    """A stack of ``num_layers`` :class:`EncoderLayer` s, in an ``nn.ModuleList`` named
    ``layers``; with ``norm_first=True`` a final :class:`LayerNorm` named ``norm`` follows the
    stack (pre-norm layers leave their output unnormalised), otherwise there is no ``norm``.
    forward(x (B, S, d), mask) -> (B, S, d)."""

    def __init__(self, num_layers: int, d_model: int, num_heads: int, d_ff: int,
                 dropout: float = 0.0, norm_first: bool = False):
        super().__init__()
        # BEGIN SOLUTION
        self.layers = nn.ModuleList(EncoderLayer(d_model, num_heads, d_ff, dropout, norm_first)
                                    for _ in range(num_layers))
        self.norm = LayerNorm(d_model) if norm_first else None
        # END SOLUTION

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        # BEGIN SOLUTION
        for layer in self.layers:
            x = layer(x, mask)
        return x if self.norm is None else self.norm(x)
        # END SOLUTION


class Decoder(nn.Module):
    """A stack of ``num_layers`` :class:`DecoderLayer` s named ``layers``, plus a final
    :class:`LayerNorm` ``norm`` when ``norm_first=True`` (as :class:`Encoder`).
    forward(y (B, T, d), memory (B, S, d), tgt_mask, memory_mask) -> (B, T, d)."""

    def __init__(self, num_layers: int, d_model: int, num_heads: int, d_ff: int,
                 dropout: float = 0.0, norm_first: bool = False):
        super().__init__()
        # BEGIN SOLUTION
        self.layers = nn.ModuleList(DecoderLayer(d_model, num_heads, d_ff, dropout, norm_first)
                                    for _ in range(num_layers))
        self.norm = LayerNorm(d_model) if norm_first else None
        # END SOLUTION

    def forward(self, y: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None) -> Tensor:
        # BEGIN SOLUTION
        for layer in self.layers:
            y = layer(y, memory, tgt_mask, memory_mask)
        return y if self.norm is None else self.norm(y)
        # END SOLUTION


class Transformer(nn.Module):
    r"""The encoder-decoder Transformer for token sequences.

    Submodules (graded names): ``src_embed``, ``tgt_embed`` (``nn.Embedding(V, d)`` with
    weights drawn from N(0, 1/d); with ``share_embeddings=True`` both names refer to *one*
    module, which needs src_vocab == tgt_vocab), ``pos`` (:class:`PositionalEncoding` of
    ``positional`` kind and ``max_len`` rows, shared by source and target; None when
    ``positional="none"``), ``encoder`` (:class:`Encoder`), ``decoder`` (:class:`Decoder`),
    ``out_proj`` (``nn.Linear(d, tgt_vocab)``; with ``tie_output=True`` its weight *is*
    ``tgt_embed.weight``, its bias stays separate) and ``dropout`` (``nn.Dropout``).

    A token sequence is embedded as $\mathrm{Drop}(E[\text{tokens}] \sqrt{d} + PE)$. The source
    mask is :func:`padding_mask` of ``src``; the decoder's self-attention mask is the padding
    mask of ``tgt_in`` AND the :func:`causal_mask`; the cross-attention mask is the source's
    padding mask. ``pad_id`` is kept as the attribute ``pad_id``.

    Raises ValueError for an unknown ``positional``, shared embeddings with different
    vocabularies, a vocabulary or layer count < 1, or (from the modules) d_model not divisible
    by num_heads.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 64, num_heads: int = 4,
                 num_encoder_layers: int = 2, num_decoder_layers: int = 2, d_ff: int = 128,
                 dropout: float = 0.1, max_len: int = 64, pad_id: int = 0,
                 norm_first: bool = False, positional: str = "sinusoidal",
                 share_embeddings: bool = False, tie_output: bool = False):
        super().__init__()
        # BEGIN SOLUTION: check the arguments, build, share and tie
        if positional not in POSITIONAL:
            raise ValueError(f"positional must be one of {POSITIONAL}, got {positional!r}")
        if min(src_vocab, tgt_vocab, num_encoder_layers, num_decoder_layers) < 1:
            raise ValueError("vocabulary sizes and layer counts must be >= 1")
        if share_embeddings and src_vocab != tgt_vocab:
            raise ValueError(f"shared embeddings need src_vocab == tgt_vocab, got {src_vocab} "
                             f"and {tgt_vocab}")
        self.d_model, self.pad_id = d_model, pad_id
        self.src_embed = nn.Embedding(src_vocab, d_model)
        nn.init.normal_(self.src_embed.weight, std=d_model ** -0.5)
        if share_embeddings:
            self.tgt_embed = self.src_embed
        else:
            self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
            nn.init.normal_(self.tgt_embed.weight, std=d_model ** -0.5)
        self.pos = None if positional == "none" else PositionalEncoding(d_model, max_len,
                                                                        positional)
        self.encoder = Encoder(num_encoder_layers, d_model, num_heads, d_ff, dropout, norm_first)
        self.decoder = Decoder(num_decoder_layers, d_model, num_heads, d_ff, dropout, norm_first)
        self.out_proj = nn.Linear(d_model, tgt_vocab)
        if tie_output:
            self.out_proj.weight = self.tgt_embed.weight
        self.dropout = nn.Dropout(dropout)
        # END SOLUTION

    def embed(self, tokens: Tensor, table: nn.Embedding) -> Tensor:
        """tokens (B, L) int64 -> Drop(table(tokens) * sqrt(d) + PE) (B, L, d)."""
        # BEGIN SOLUTION
        x = table(tokens) * self.d_model ** 0.5  # (B, L, d)
        if self.pos is not None:
            x = self.pos(x)
        return self.dropout(x)
        # END SOLUTION

    def encode(self, src: Tensor, src_mask: Tensor | None = None) -> Tensor:
        """src (B, S) int64 -> memory (B, S, d). src_mask defaults to the padding mask of src."""
        # BEGIN SOLUTION
        if src_mask is None:
            src_mask = padding_mask(src, self.pad_id)
        return self.encoder(self.embed(src, self.src_embed), src_mask)
        # END SOLUTION

    def decode(self, tgt_in: Tensor, memory: Tensor, src_mask: Tensor) -> Tensor:
        """tgt_in (B, T) int64, memory (B, S, d), src_mask (B, 1, 1, S) -> logits (B, T, V)."""
        # BEGIN SOLUTION: target mask = padding AND causal; decode; project
        T = tgt_in.shape[1]
        tgt_mask = padding_mask(tgt_in, self.pad_id) & causal_mask(T, tgt_in.device)  # (B,1,T,T)
        y = self.decoder(self.embed(tgt_in, self.tgt_embed), memory, tgt_mask, src_mask)
        return self.out_proj(y)  # (B, T, V)
        # END SOLUTION

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """src (B, S), tgt_in (B, T) int64 (the target shifted right: BOS y_1 .. y_{T-1}) ->
        logits (B, T, tgt_vocab) for y_1 .. y_T (teacher forcing)."""
        # BEGIN SOLUTION
        src_mask = padding_mask(src, self.pad_id)
        return self.decode(tgt_in, self.encode(src, src_mask), src_mask)
        # END SOLUTION
