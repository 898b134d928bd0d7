"""The pipe's wire format: plain data only, never pickle.

A message is a JSON header plus raw byte buffers for array data::

    frame   = u32 header_len | u32 n_buffers | n_buffers * u64 buffer_len | header | buffers
    header  = JSON tree; lists are JSON arrays, everything else is tagged:
              {"$t": [...]}                       tuple
              {"$d": [[key, value], ...]}         dict (any encodable keys, order kept)
              {"$T": [dtype, shape, buffer]}      torch.Tensor (CPU, contiguous copy)
              {"$A": [dtype, shape, buffer]}      numpy.ndarray
              {"$s": [dtype, value]}              numpy scalar
              {"$dt": "float32"}                  torch.dtype
              {"$dev": "cuda:0"}                  torch.device
              {"$h": id, "type": name}            handle to an object living in the worker
              {"$m": [id, name]}                  a method (or function) of such an object,
                                                  only ever sent to the worker

Allowed values: None, bool, int, float, str, list, tuple, dict, tensors, ndarrays, numpy
scalars, torch dtypes and devices, and handles. Anything else raises :class:`EncodingError`,
unless the encoder is given ``to_handle`` (the worker's side), which turns it into a handle.
Decoding only parses JSON and copies bytes: nothing in a message can make the reader run code,
and dtypes, shapes and sizes are checked before any buffer is used.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


class EncodingError(TypeError):
    """A value that may not cross the pipe (only plain data and handles may)."""



MAX_DEPTH = 64
MAX_HEADER_BYTES = 64 << 20
MAX_MESSAGE_BYTES = 2 << 30

_TORCH_DTYPES = {
    name: getattr(torch, name)
    for name in ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32",
                 "int64", "uint8", "bool", "complex64", "complex128")
}
_NUMPY_DTYPES = {name: np.dtype(name) for name in (
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
    "uint32", "uint64", "bool", "complex64", "complex128")}

ToHandle = Callable[[Any], dict[str, Any]]
FromHandle = Callable[[dict[str, Any]], Any]


class Handle:
    """A reference to a worker-side object, as seen by whoever decodes it without a resolver."""

    __slots__ = ("id", "type")

    def __init__(self, id: int, type: str = ""):
        self.id = id
        self.type = type

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Handle) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Handle({self.id}, {self.type!r})"


def encode(value: Any, to_handle: ToHandle | None = None) -> tuple[bytes, list[memoryview]]:
    """Encode ``value`` into a JSON header and a list of buffers."""
    buffers: list[memoryview] = []
    tree = _encode(value, buffers, to_handle, 0)
    try:
        header = json.dumps(tree, separators=(",", ":"), allow_nan=True).encode()
    except (TypeError, ValueError) as exc:  # pragma: no cover - _encode guarantees JSON types
        raise EncodingError(str(exc)) from None
    return header, buffers


def _encode(v: Any, bufs: list[memoryview], to_handle: ToHandle | None, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise EncodingError(f"value nested deeper than {MAX_DEPTH} levels (or self-referencing)")
    if isinstance(v, np.generic):  # before int/float: np.float64 is a float subclass
        if v.dtype.name not in _NUMPY_DTYPES:
            raise EncodingError(f"cannot send a numpy scalar of dtype {v.dtype}")
        if v.dtype.kind == "c":
            return {"$s": [v.dtype.name, [float(v.real), float(v.imag)]]}
        return {"$s": [v.dtype.name, v.item()]}
    if v is None or isinstance(v, bool):
        return None if v is None else bool(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, torch.Tensor):
        return {"$T": _tensor_payload(v, bufs)}
    if isinstance(v, np.ndarray):
        return {"$A": _array_payload(v, bufs)}
    if isinstance(v, torch.dtype):
        name = str(v).removeprefix("torch.")
        if name not in _TORCH_DTYPES:
            raise EncodingError(f"cannot send the dtype {v}")
        return {"$dt": name}
    if isinstance(v, torch.device):
        return {"$dev": str(v)}
    if isinstance(v, Handle):
        return {"$h": v.id, "type": v.type}
    if type(v) is list:
        return [_encode(x, bufs, to_handle, depth + 1) for x in v]
    if isinstance(v, tuple) and (type(v) is tuple or isinstance(v, torch.Size)):
        return {"$t": [_encode(x, bufs, to_handle, depth + 1) for x in v]}
    if isinstance(v, dict) and type(v).__module__ in ("builtins", "collections"):
        return {"$d": [[_encode(k, bufs, to_handle, depth + 1),
                        _encode(x, bufs, to_handle, depth + 1)] for k, x in v.items()]}
    handle = getattr(v, "__llmsoc_handle__", None)
    if handle is not None:
        return {"$h": handle.id, "type": handle.type}
    method = getattr(v, "__llmsoc_method__", None)
    if method is not None:
        return {"$m": list(method)}
    if to_handle is not None:
        return to_handle(v)
    raise EncodingError(
        f"cannot send a {type(v).__module__}.{type(v).__qualname__} across the process boundary; "
        "only tensors, ndarrays, numbers, strings, bools, None, lists, tuples and dicts can")


def _tensor_payload(t: torch.Tensor, bufs: list[memoryview]) -> list[Any]:
    if t.layout != torch.strided:
        raise EncodingError(f"cannot send a {t.layout} tensor; convert it with .to_dense()")
    name = str(t.dtype).removeprefix("torch.")
    if name not in _TORCH_DTYPES:
        raise EncodingError(f"cannot send a tensor of dtype {t.dtype}")
    t = t.detach().to("cpu").resolve_conj().resolve_neg().contiguous()
    raw = t.view(torch.int16) if t.dtype == torch.bfloat16 else t
    bufs.append(memoryview(raw.numpy().reshape(-1)).cast("B") if t.numel() else memoryview(b""))
    return [name, list(t.shape), len(bufs) - 1]


def _array_payload(a: np.ndarray, bufs: list[memoryview]) -> list[Any]:
    if a.dtype.name not in _NUMPY_DTYPES:
        raise EncodingError(f"cannot send an ndarray of dtype {a.dtype}")
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    a = np.ascontiguousarray(a).reshape(a.shape)  # ascontiguousarray makes 0-d arrays 1-d
    bufs.append(memoryview(a.reshape(-1)).cast("B") if a.size else memoryview(b""))
    return [a.dtype.name, list(a.shape), len(bufs) - 1]


def decode(header: bytes, buffers: list[bytearray], from_handle: FromHandle | None = None) -> Any:
    """Inverse of :func:`encode`. Handles become :class:`Handle` unless ``from_handle`` is given."""
    try:
        return _decode(json.loads(header), buffers, from_handle, 0)
    except EncodingError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise EncodingError(f"malformed message: {type(exc).__name__}") from None


def _decode(v: Any, bufs: list[bytearray], from_handle: FromHandle | None, depth: int) -> Any:
    if depth > MAX_DEPTH + 2:
        raise EncodingError("message nested too deeply")
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, list):
        return [_decode(x, bufs, from_handle, depth + 1) for x in v]
    if not isinstance(v, dict) or not v:
        raise EncodingError(f"malformed message node {v!r:.80}")
    tag = next(iter(v))
    body = v[tag]
    if tag == "$t":
        return tuple(_decode(x, bufs, from_handle, depth + 1) for x in _as_list(body))
    if tag == "$d":
        out = {}
        for pair in _as_list(body):
            k, x = _as_list(pair, 2)
            key = _decode(k, bufs, from_handle, depth + 1)
            try:
                out[key] = _decode(x, bufs, from_handle, depth + 1)
            except TypeError:
                raise EncodingError(f"unhashable dict key of type {type(key).__name__}") from None
        return out
    if tag == "$T":
        return _decode_tensor(body, bufs)
    if tag == "$A":
        return _decode_array(body, bufs)
    if tag == "$s":
        name, value = _as_list(body, 2)
        dtype = _lookup(_NUMPY_DTYPES, name)
        if dtype.kind == "c":
            re, im = _as_list(value, 2)
            value = complex(_number(re), _number(im))
        else:
            value = _number(value)
        return dtype.type(value)
    if tag == "$dt":
        return _lookup(_TORCH_DTYPES, body)
    if tag == "$dev":
        try:
            return torch.device(str(body))
        except RuntimeError as exc:
            raise EncodingError(str(exc)) from None
    if tag == "$h":
        if not isinstance(body, int):
            raise EncodingError("malformed handle")
        return from_handle(v) if from_handle else Handle(body, str(v.get("type", "")))
    if tag == "$m":
        target, name = _as_list(body, 2)
        if from_handle is None or not isinstance(target, int) or not isinstance(name, str):
            raise EncodingError("malformed method reference")
        return from_handle(v)
    raise EncodingError(f"unknown tag {tag!r}")


def _as_list(v: Any, n: int | None = None) -> list[Any]:
    if not isinstance(v, list) or (n is not None and len(v) != n):
        raise EncodingError("malformed message")
    return v


def _number(v: Any) -> int | float | bool:
    if not isinstance(v, (int, float, bool)):
        raise EncodingError("malformed scalar")
    return v


def _lookup(table: dict[str, Any], name: Any) -> Any:
    if not isinstance(name, str) or name not in table:
        raise EncodingError(f"unsupported dtype {name!r}")
    return table[name]


def _checked_buffer(name: str, itemsize: int, shape: Any, index: Any, bufs: list[bytearray]
                    ) -> bytearray:
    if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
        raise EncodingError("malformed shape")
    if not isinstance(index, int) or not 0 <= index < len(bufs):
        raise EncodingError("buffer index out of range")
    buf = bufs[index]
    if len(buf) != math.prod(shape) * itemsize:
        raise EncodingError(f"buffer of {len(buf)} bytes does not hold a {name} array {shape}")
    return buf


def _decode_tensor(body: Any, bufs: list[bytearray]) -> torch.Tensor:
    name, shape, index = _as_list(body, 3)
    dtype = _lookup(_TORCH_DTYPES, name)
    itemsize = torch.empty((), dtype=dtype).element_size()
    buf = _checked_buffer(name, itemsize, shape, index, bufs)
    if not buf:
        return torch.empty(shape, dtype=dtype)
    storage_dtype = torch.int16 if dtype == torch.bfloat16 else dtype
    t = torch.frombuffer(buf, dtype=storage_dtype).reshape(shape)
    return t.view(torch.bfloat16) if dtype == torch.bfloat16 else t


def _decode_array(body: Any, bufs: list[bytearray]) -> np.ndarray:
    name, shape, index = _as_list(body, 3)
    dtype = _lookup(_NUMPY_DTYPES, name)
    buf = _checked_buffer(name, dtype.itemsize, shape, index, bufs)
    return np.frombuffer(buf, dtype=dtype).reshape(shape)


# -- framing -----------------------------------------------------------------------------------

def write_message(fd: int, header: bytes, buffers: list[memoryview],
                  deadline: float | None = None) -> None:
    """Write one frame to ``fd``; with a ``deadline``, ``fd`` must be non-blocking."""
    prefix = struct.pack(f"<II{len(buffers)}Q", len(header), len(buffers),
                         *(b.nbytes for b in buffers))
    _write_all(fd, prefix + header, deadline)
    for b in buffers:
        _write_all(fd, b, deadline)


def _write_all(fd: int, data: bytes | memoryview, deadline: float | None) -> None:
    view = memoryview(data).cast("B")
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            left = float("inf") if deadline is None else deadline - time.monotonic()
            if left <= 0 or not poller.poll(None if deadline is None else left * 1000):
                raise TimeoutError("the peer stopped reading") from None
            continue
        view = view[n:]


def read_message(fd: int, deadline: float | None = None) -> tuple[bytes, list[bytearray]]:
    """Read one frame from ``fd``.

    Raises ``EOFError`` when the peer is gone and ``TimeoutError`` when ``deadline`` (a
    ``time.monotonic()`` value) passes first, even if the peer stops in the middle of a frame.
    """
    header_len, n_buffers = struct.unpack("<II", _read_exact(fd, 8, deadline))
    if header_len > MAX_HEADER_BYTES or n_buffers > 1 << 20:
        raise EncodingError("message header too large")
    sizes = struct.unpack(f"<{n_buffers}Q", _read_exact(fd, 8 * n_buffers, deadline))
    if sum(sizes) > MAX_MESSAGE_BYTES:
        raise EncodingError("message too large")
    header = bytes(_read_exact(fd, header_len, deadline))
    return header, [_read_exact(fd, n, deadline) for n in sizes]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    poller = select.poll() if deadline is not None else None
    if poller is not None:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while got < n:
        if poller is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(left * 1000):
                raise TimeoutError("no answer before the deadline")
        k = os.readv(fd, [view[got:]])
        if not k:
            raise EOFError("peer closed the pipe")
        got += k
    return buf
