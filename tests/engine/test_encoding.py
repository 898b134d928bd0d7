"""The pipe's wire format (autograder/encoding.py): exact round trips through a real pipe,
refusal of everything that is not plain data, and a decoder that rejects malformed frames."""

from __future__ import annotations

import builtins
import importlib
import json
import math
import os
import pickle
import struct
import threading
import time
from collections import OrderedDict, defaultdict
from typing import Any

import numpy as np
import pytest
import torch

from autograder.common import wire as encoding
from autograder.common.wire import (
    EncodingError,
    Handle,
    decode,
    encode,
    read_message,
    write_message,
)

INF, NAN = float("inf"), float("nan")


def through_pipe(value: Any) -> Any:
    """Encode, write to a real ``os.pipe()`` (from a thread: frames may exceed the pipe's
    buffer), read back with a deadline, decode."""
    header, bufs = encode(value)
    r, w = os.pipe()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            write_message(w, header, bufs)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)
        finally:
            os.close(w)

    t = threading.Thread(target=writer)
    t.start()
    try:
        got_header, got_bufs = read_message(r, time.monotonic() + 10)
    finally:
        t.join()
        os.close(r)
    assert not errors
    return decode(got_header, got_bufs)


def tensor_bytes(t: torch.Tensor) -> bytes:
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def assert_same(got: Any, want: Any) -> None:
    """Exact equality: same type, dtype, shape and bits (so NaN == NaN and -0.0 != 0.0)."""
    if isinstance(want, torch.Tensor):
        assert type(got) is torch.Tensor
        assert got.dtype == want.dtype and got.shape == want.shape
        assert not got.requires_grad and got.layout == torch.strided
        assert tensor_bytes(got) == tensor_bytes(want)
    elif isinstance(want, np.ndarray):
        assert type(got) is np.ndarray
        assert got.dtype == want.dtype and got.dtype.isnative and got.shape == want.shape
        assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes()
    elif isinstance(want, np.generic):
        assert type(got) is type(want)
        assert np.array(got).tobytes() == np.array(want).tobytes()
    elif isinstance(want, float):
        assert type(got) is float
        assert struct.pack("<d", got) == struct.pack("<d", want)
    elif isinstance(want, torch.Size):
        assert type(got) is tuple and got == tuple(want)
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
    elif isinstance(want, dict):
        assert type(got) is dict
        assert list(got) == list(want)  # same keys, same order
        for k in want:
            assert_same(got[k], want[k])
    else:
        assert type(got) is type(want) and got == want


# ----------------------------------------------------------------------------- round trips

PLAIN = {
    "none": None,
    "true": True,
    "false": False,
    "zero": 0,
    "int": -42,
    "bigint": 2**200 + 1,
    "negbigint": -(3**150),
    "int64max": 2**63 - 1,
    "float": 0.1,
    "negzero": -0.0,
    "nan": NAN,
    "inf": INF,
    "neginf": -INF,
    "tiny": 5e-324,
    "str": "plain",
    "empty-str": "",
    "unicode": "héllo wörld ✓ 日本語 🙂 \x00 \u2028",
    "list": [1, 2.5, "x", None, [True, []]],
    "empty-list": [],
    "tuple": (1, (2, 3), ()),
    "nested": {"a": [1, {"b": (2, None)}], 3: "int key", (4, 5): "tuple key", None: 0,
               2.5: "float key", False: "bool key", "z": {1: {2: {3: [4]}}}},
    "torch-dtype": torch.bfloat16,
    "torch-device-cpu": torch.device("cpu"),
    "torch-device-cuda": torch.device("cuda", 1),
    "torch-size": torch.Size([2, 0, 3]),
    "mixed": [torch.arange(3), np.arange(2.0), {"k": (torch.tensor(1.5), np.int8(-3))}],
}


@pytest.mark.parametrize("value", PLAIN.values(), ids=PLAIN.keys())
def test_plain_values_round_trip_exactly(value: Any) -> None:
    assert_same(through_pipe(value), value)


def test_dict_subclasses_arrive_as_plain_dicts_in_order() -> None:
    od = OrderedDict([("b", 1), ("a", torch.ones(2))])
    dd = defaultdict(list, {3: [1]})
    got = through_pipe([od, dd])
    assert_same(got, [dict(od), dict(dd)])


def _torch_sample(dtype: torch.dtype) -> torch.Tensor:
    if dtype == torch.bool:
        return torch.tensor([[True, False, True], [False, False, True]])
    if dtype.is_complex:
        return torch.tensor([[1 + 2j, -0.0 - 1j, complex(INF, 0)], [complex(0, NAN), 3, -4j]],
                            dtype=dtype)
    if dtype.is_floating_point:
        fi = torch.finfo(dtype)
        return torch.tensor([[0.5, -0.0, INF], [NAN, -fi.max, fi.tiny]], dtype=dtype)
    ii = torch.iinfo(dtype)
    return torch.tensor([[ii.min, ii.max, 0], [1, -1 if ii.min < 0 else 7, 42]], dtype=dtype)


@pytest.mark.parametrize("name", sorted(encoding._TORCH_DTYPES))
def test_tensors_of_every_dtype_round_trip_exactly(name: str) -> None:
    dtype = encoding._TORCH_DTYPES[name]
    t = _torch_sample(dtype)
    cases = {
        "2-d": t,
        "0-d": t[1, 2].clone(),
        "empty": t[:0],
        "empty-3d": torch.empty(0, 3, 4, dtype=dtype),
        "transposed": t.t(),
        "strided": t[:, ::2],
        "expanded": t[:1, :1].expand(3, 4),
    }
    assert not cases["transposed"].is_contiguous() and not cases["strided"].is_contiguous()
    got = through_pipe(cases)
    assert_same(got, cases)
    assert all(v.is_contiguous() for v in got.values())


def test_tensor_with_grad_arrives_detached() -> None:
    p = torch.nn.Parameter(torch.randn(3, 2))
    y = p * 2
    got = through_pipe([p, y])
    assert_same(got, [p.detach(), y.detach()])


def test_large_tensor_through_pipe() -> None:
    t = torch.randn(1000, 1000, generator=torch.Generator().manual_seed(0))  # 4 MB > pipe buffer
    assert_same(through_pipe(t), t)


def _numpy_sample(dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "b":
        return np.array([[True, False, True], [False, True, True]])
    if dtype.kind == "c":
        return np.array([[1 + 2j, complex(INF, -0.0), complex(NAN, 1)], [0, -1j, 3]], dtype)
    if dtype.kind == "f":
        fi = np.finfo(dtype)
        return np.array([[0.5, -0.0, INF], [NAN, -fi.max, fi.tiny]], dtype)
    ii = np.iinfo(dtype)
    return np.array([[ii.min, ii.max, 0], [1, 2, 42]], dtype)


@pytest.mark.parametrize("name", sorted(encoding._NUMPY_DTYPES))
def test_ndarrays_of_every_dtype_round_trip_exactly(name: str) -> None:
    a = _numpy_sample(encoding._NUMPY_DTYPES[name])
    cases = {"2-d": a, "1-element": a[1, 2:], "empty": a[:0],
             "empty-3d": np.empty((0, 2, 3), a.dtype), "transposed": a.T,
             "strided": a[:, ::2], "fortran": np.asfortranarray(a)}
    assert_same(through_pipe(cases), cases)


def test_zero_dim_ndarray_keeps_its_shape() -> None:
    a = np.array(3.5)
    got = through_pipe(a)
    assert got.shape == () and got.dtype == a.dtype and float(got) == 3.5


@pytest.mark.parametrize("name", sorted(encoding._NUMPY_DTYPES))
def test_numpy_scalars_of_every_dtype_round_trip_exactly(name: str) -> None:
    dtype = encoding._NUMPY_DTYPES[name]
    values = _numpy_sample(dtype).reshape(-1)
    scalars = [values[i] for i in range(values.size)]
    assert all(isinstance(s, np.generic) for s in scalars)
    assert_same(through_pipe(scalars), scalars)


@pytest.mark.parametrize("name", sorted(encoding._TORCH_DTYPES))
def test_every_torch_dtype_object_round_trips(name: str) -> None:
    assert through_pipe(encoding._TORCH_DTYPES[name]) is encoding._TORCH_DTYPES[name]


def test_handles_round_trip_and_resolve() -> None:
    assert through_pipe([Handle(7, "demo.MLP")]) == [Handle(7, "demo.MLP")]
    seen = []

    def to_handle(obj: Any) -> dict[str, Any]:
        seen.append(obj)
        return {"$h": 100 + len(seen), "type": type(obj).__name__}

    thing = object()
    header, bufs = encode({"x": [thing, 1]}, to_handle)
    assert seen == [thing]
    got = decode(header, [bytearray(b) for b in bufs],
                 lambda node: ("resolved", node["$h"], node["type"]))
    assert got == {"x": [("resolved", 101, "object"), 1]}


# ----------------------------------------------------------------------------- refusals

def _self_list() -> list[Any]:
    x: list[Any] = [1]
    x.append(x)
    return x


def _self_dict() -> dict[str, Any]:
    d: dict[str, Any] = {}
    d["me"] = d
    return d


class Custom:
    pass


class MyList(list):
    pass


REFUSED = {
    "object": object(),
    "custom-instance": Custom(),
    "bytes": b"abc",
    "bytearray": bytearray(b"abc"),
    "set": {1, 2},
    "frozenset": frozenset({1}),
    "complex": 1 + 2j,
    "lambda": lambda x: x,
    "function": through_pipe,
    "builtin": len,
    "class": Custom,
    "type": int,
    "module": os,
    "list-subclass": MyList([1]),
    "sparse": torch.eye(3).to_sparse(),
    "sparse-coo-hybrid": torch.eye(3).to_sparse(1),
    "object-array": np.array([object()], dtype=object),
    "str-array": np.array(["ab"]),
    "datetime-array": np.array(["2024-01-01"], dtype="datetime64[D]"),
    "longdouble": np.longdouble(1.5),
    "self-list": _self_list(),
    "self-dict": _self_dict(),
    "nested-in-list": [1, {"ok": [object()]}],
    "huge-int": 10**5000,
    "generator": (i for i in range(3)),
}


@pytest.mark.parametrize("value", REFUSED.values(), ids=REFUSED.keys())
def test_non_plain_values_are_refused(value: Any) -> None:
    with pytest.raises(EncodingError):
        encode(value)


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
def test_unsupported_tensor_dtypes_are_refused() -> None:
    for dtype in (torch.uint16, torch.float8_e4m3fn, torch.complex32):
        with pytest.raises(EncodingError):
            encode(torch.zeros(2, dtype=dtype))


def test_dtype_objects_the_decoder_refuses_are_refused_when_encoding() -> None:
    for dtype in (torch.uint16, torch.float8_e4m3fn, torch.complex32):
        try:
            header, bufs = encode(dtype)
        except EncodingError:
            continue
        assert decode(header, [bytearray(b) for b in bufs]) is dtype


def test_big_endian_ndarray_keeps_its_values() -> None:
    a = np.arange(4, dtype=">f4")
    got = through_pipe(a)
    np.testing.assert_array_equal(got, a)


def test_conjugated_complex_tensor_round_trips() -> None:
    t = torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64).conj()
    assert_same(through_pipe(t), t.resolve_conj())


# ----------------------------------------------------------------------------- decoder refusals

def frame(header: bytes, bufs: list[bytes] = ()) -> tuple[bytes, list[bytearray]]:
    return header, [bytearray(b) for b in bufs]


MALFORMED = {
    "not-json": frame(b"{nope"),
    "unknown-tag": frame(b'{"$x": 1}'),
    "pickle-tag": frame(b'{"$pickle": "gASVAAAAAAAAAAB9lC4="}'),
    "untagged-dict": frame(b'{"a": 1}'),
    "empty-dict": frame(b"{}"),
    "tuple-not-list": frame(b'{"$t": 5}'),
    "dict-bad-pair": frame(b'{"$d": [[1, 2, 3]]}'),
    "dict-unhashable-key": frame(b'{"$d": [[[1], 2]]}'),
    "tensor-short-buffer": frame(b'{"$T": ["float32", [2, 2], 0]}', [bytes(15)]),
    "tensor-long-buffer": frame(b'{"$T": ["float32", [2, 2], 0]}', [bytes(17)]),
    "tensor-empty-buffer": frame(b'{"$T": ["float32", [2], 0]}', [b""]),
    "tensor-missing-field": frame(b'{"$T": ["float32", [2]]}', [bytes(8)]),
    "tensor-bad-dtype": frame(b'{"$T": ["float128", [2], 0]}', [bytes(32)]),
    "tensor-code-dtype": frame(b'{"$T": ["__import__(\'os\').system(\'true\')", [1], 0]}',
                               [bytes(1)]),
    "tensor-dtype-not-str": frame(b'{"$T": [5, [2], 0]}', [bytes(8)]),
    "tensor-negative-dim": frame(b'{"$T": ["uint8", [-1], 0]}', [b""]),
    "tensor-float-dim": frame(b'{"$T": ["uint8", [2.0], 0]}', [bytes(2)]),
    "tensor-shape-not-list": frame(b'{"$T": ["uint8", 2, 0]}', [bytes(2)]),
    "tensor-index-out-of-range": frame(b'{"$T": ["uint8", [2], 1]}', [bytes(2)]),
    "tensor-negative-index": frame(b'{"$T": ["uint8", [2], -1]}', [bytes(2)]),
    "tensor-str-index": frame(b'{"$T": ["uint8", [2], "0"]}', [bytes(2)]),
    "tensor-no-buffers": frame(b'{"$T": ["uint8", [2], 0]}'),
    "tensor-huge-shape": frame(b'{"$T": ["float64", [4611686018427387904, 4], 0]}', [bytes(8)]),
    "array-bad-dtype": frame(b'{"$A": ["object", [1], 0]}', [bytes(8)]),
    "array-wrong-size": frame(b'{"$A": ["int64", [3], 0]}', [bytes(16)]),
    "array-index-out-of-range": frame(b'{"$A": ["int8", [1], 3]}', [bytes(1)]),
    "scalar-bad-dtype": frame(b'{"$s": ["object", 1]}'),
    "scalar-missing-value": frame(b'{"$s": ["int8"]}'),
    "torch-dtype-unknown": frame(b'{"$dt": "os.system"}'),
    "torch-dtype-not-str": frame(b'{"$dt": ["float32"]}'),
    "device-garbage": frame(b'{"$dev": "no-such-device:7"}'),
    "handle-not-int": frame(b'{"$h": "1"}'),
    "deep-tags": frame(b'{"$t": [' * 80 + b"1" + b"]}" * 80),
}


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_messages_are_refused(case: tuple[bytes, list[bytearray]]) -> None:
    header, bufs = case
    with pytest.raises(EncodingError):
        decode(header, bufs)


ESCAPING = {
    "json-nested-100k": frame(b"[" * 100_000 + b"]" * 100_000),
    "scalar-value-not-number": frame(b'{"$s": ["float32", "abc"]}'),
    "scalar-complex-from-str": frame(b'{"$s": ["complex64", "ab"]}'),
    "scalar-out-of-range": frame(b'{"$s": ["uint8", 1000]}'),
    "scalar-is-an-array": frame(b'{"$s": ["float32", [1, 2, 3]]}'),
    "tensor-bool-dim": frame(b'{"$T": ["float32", [true, 2], 0]}', [bytes(8)]),
}


@pytest.mark.parametrize("case", ESCAPING.values(), ids=ESCAPING.keys())
def test_malformed_values_are_refused_with_encoding_error(
        case: tuple[bytes, list[bytearray]]) -> None:
    header, bufs = case
    try:
        value = decode(header, bufs)
    except EncodingError:
        return
    pytest.fail(f"accepted as {type(value).__name__}")


def test_decoding_never_executes_anything(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    values = [payload, {payload: (payload,)}, torch.ones(2), np.zeros(2, np.int8), np.float32(1),
              torch.float32, torch.device("cpu"), Handle(3, payload)]
    header, bufs = encode(values)
    tree = json.loads(header)
    tree.append({"$dt": payload})
    tree.append({"$s": [payload, 1]})
    bad_header = json.dumps(tree).encode()

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the decoder tried to run code")

    decode(header, [bytearray(b) for b in bufs])  # warm up any lazy imports first
    with pytest.raises(EncodingError):
        decode(bad_header, [bytearray(b) for b in bufs])
    real_import = builtins.__import__
    with monkeypatch.context() as m:
        for mod, name in [(builtins, "eval"), (builtins, "exec"), (builtins, "compile"),
                          (pickle, "loads"), (pickle, "load"), (pickle, "Unpickler"),
                          (importlib, "import_module"), (os, "system")]:
            m.setattr(mod, name, forbidden)
        builtins.__import__ = forbidden
        try:
            got = decode(header, [bytearray(b) for b in bufs])
            try:
                decode(bad_header, [bytearray(b) for b in bufs])
            except EncodingError:
                refused = True
            else:
                refused = False
        finally:
            builtins.__import__ = real_import
    assert refused
    assert got[0] == payload and got[1] == {payload: (payload,)}
    assert got[7] == Handle(3, payload) and got[7].type == payload
    assert not marker.exists()


# ----------------------------------------------------------------------------- framing

def _prefix(header_len: int, sizes: list[int]) -> bytes:
    return struct.pack(f"<II{len(sizes)}Q", header_len, len(sizes), *sizes)


def test_oversized_header_is_refused_before_reading_it() -> None:
    r, w = os.pipe()
    try:
        os.write(w, _prefix(encoding.MAX_HEADER_BYTES + 1, []))
        start = time.monotonic()
        with pytest.raises(EncodingError, match="too large"):
            read_message(r, time.monotonic() + 5)
        assert time.monotonic() - start < 1
    finally:
        os.close(r)
        os.close(w)


def test_too_many_buffers_and_oversized_messages_are_refused() -> None:
    for prefix in (struct.pack("<II", 2, (1 << 20) + 1),
                   _prefix(2, [encoding.MAX_MESSAGE_BYTES, 1])):
        r, w = os.pipe()
        try:
            os.write(w, prefix)
            with pytest.raises(EncodingError, match="too large"):
                read_message(r, time.monotonic() + 5)
        finally:
            os.close(r)
            os.close(w)


def test_read_times_out_when_the_writer_stops_mid_frame() -> None:
    header, _ = encode({"x": "y" * 100})
    data = _prefix(len(header), []) + header
    for cut in (3, 8 + 10):  # inside the prefix, inside the header
        r, w = os.pipe()
        try:
            os.write(w, data[:cut])
            start = time.monotonic()
            with pytest.raises(TimeoutError):
                read_message(r, start + 0.3)
            assert 0.25 < time.monotonic() - start < 3
        finally:
            os.close(r)
            os.close(w)


def test_read_times_out_inside_a_buffer() -> None:
    header, _ = encode({"$x": 0})
    r, w = os.pipe()
    try:
        os.write(w, _prefix(len(header), [1000]) + header + bytes(10))
        with pytest.raises(TimeoutError):
            read_message(r, time.monotonic() + 0.3)
    finally:
        os.close(r)
        os.close(w)


def test_eof_mid_frame_is_eof() -> None:
    header, _ = encode([1, 2, 3])
    r, w = os.pipe()
    try:
        os.write(w, _prefix(len(header), []) + header[:2])
        os.close(w)
        with pytest.raises(EOFError):
            read_message(r, time.monotonic() + 5)
    finally:
        os.close(r)


def test_write_times_out_when_the_reader_stops() -> None:
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        header, bufs = encode(torch.zeros(1 << 20))  # 4 MB, far beyond the pipe buffer
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            write_message(w, header, bufs, start + 0.3)
        assert time.monotonic() - start < 3
    finally:
        os.close(r)
        os.close(w)


def test_consecutive_frames_stay_in_sync() -> None:
    r, w = os.pipe()
    try:
        for v in ([1, "a"], torch.arange(5), {"k": np.ones(3)}):
            write_message(w, *encode(v))
        got = [decode(*read_message(r, time.monotonic() + 5)) for _ in range(3)]
    finally:
        os.close(r)
        os.close(w)
    assert_same(got, [[1, "a"], torch.arange(5), {"k": np.ones(3)}])
    assert math.isclose(float(got[2]["k"].sum()), 3.0)
