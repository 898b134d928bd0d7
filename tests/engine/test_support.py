"""The course support package: data loaders and generators shared by assignments."""

from __future__ import annotations

import math
import sys

import pytest
import torch

from autograder.support.digits import load_digits_split


def test_digits_split_is_a_stratified_partition() -> None:
    s = load_digits_split(seed=3)
    parts = [(s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test)]
    assert sum(len(y) for _, y in parts) == 1797
    for x, y in parts:
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape == (len(y), 1, 8, 8)
        assert set(y.tolist()) == set(range(10))
    # every class keeps its share in each part (within one image of a proportional split)
    counts = [torch.bincount(y, minlength=10).double() / len(y) for _, y in parts]
    assert torch.allclose(counts[1], counts[0], atol=0.01)
    assert torch.allclose(counts[2], counts[0], atol=0.01)
    # no image is in two parts
    rows = {tuple(r.tolist()) for x, _ in parts[1:] for r in x.flatten(1)}
    assert len(rows & {tuple(r.tolist()) for r in s.x_train.flatten(1)}) <= 5  # true duplicates


def test_digits_split_depends_on_the_seed_only() -> None:
    a, b, c = load_digits_split(seed=1), load_digits_split(seed=1), load_digits_split(seed=2)
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_train, b.y_train)
    assert not torch.equal(a.y_train, c.y_train)


def test_digits_scalings() -> None:
    unit = load_digits_split(seed=0, scaling="unit")
    assert unit.x_train.min() == 0 and unit.x_train.max() == 1
    raw = load_digits_split(seed=0, scaling="raw")
    assert torch.equal(raw.x_test, unit.x_test * 16)
    std = load_digits_split(seed=0, scaling="standard")
    assert abs(float(std.x_train.mean())) < 1e-5 and abs(float(std.x_train.std()) - 1) < 1e-3


@pytest.mark.parametrize("kwargs", [{"scaling": "minmax"}, {"val_fraction": 0.6,
                                                            "test_fraction": 0.5}])
def test_digits_bad_arguments(kwargs) -> None:
    with pytest.raises(ValueError, match="scaling|fraction"):
        load_digits_split(**kwargs)


def test_handout_scripts_draw_to_files(monkeypatch) -> None:
    import argparse

    import matplotlib

    from autograder.support.figures import use_file_backend

    use_file_backend(argparse.ArgumentParser())
    assert matplotlib.get_backend().lower() == "agg"
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # not installed
    with pytest.raises(SystemExit):
        use_file_backend(argparse.ArgumentParser())


def test_wave_is_fixed_closed_form() -> None:
    from autograder.grading.inputs import wave

    x = wave(2, 3, scale=2.0, phase=0.5)
    assert x.shape == (2, 3) and x.dtype == torch.float32
    t = 4  # flat index of [1, 1]
    assert float(x[1, 1]) == pytest.approx(2.0 * math.sin(1.7 * t + 0.5) * math.cos(0.3 * t),
                                           abs=1e-6)
    assert torch.equal(wave(6), wave(2, 3).flatten())


def _digits(row: torch.Tensor) -> str:
    from autograder.support import seq_tasks

    return "".join(str(int(i) - seq_tasks.DIGIT0) if i >= seq_tasks.DIGIT0 else "+"
                   for i in row if i not in (seq_tasks.PAD, seq_tasks.BOS, seq_tasks.EOS))


@pytest.mark.parametrize("task", ["reverse", "sort", "add"])
def test_seq_tasks_targets_are_correct(task) -> None:
    from autograder.support import seq_tasks

    src, tgt = seq_tasks.generate(task, 300, seed=3)
    S, T = seq_tasks.task_shapes(task)
    assert src.shape == (300, S) and tgt.shape == (300, T + 2) and src.dtype == torch.int64
    assert (tgt[:, 0] == seq_tasks.BOS).all()
    assert ((tgt == seq_tasks.EOS).sum(dim=1) == 1).all()
    for s, t in zip(src, tgt, strict=True):
        given, want = _digits(s), _digits(t)
        if task == "reverse":
            assert want == given[::-1]
        elif task == "sort":
            assert want == "".join(sorted(given))
        else:
            a, b = given.split("+")
            assert a and b and (a == "0" or a[0] != "0") and want == str(int(a) + int(b))
        n = len(want)  # the output, then EOS, then only padding
        assert int(t[n + 1]) == seq_tasks.EOS and (t[n + 2:] == seq_tasks.PAD).all()


def test_seq_tasks_lengths_vary_and_draws_are_seeded() -> None:
    from autograder.support import seq_tasks

    src, _ = seq_tasks.generate("reverse", 500, seed=0, min_len=2, max_len=5)
    lengths = (src != seq_tasks.PAD).sum(dim=1)
    assert set(lengths.tolist()) == {2, 3, 4, 5}
    first, again = seq_tasks.generate("add", 50, seed=7), seq_tasks.generate("add", 50, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(first, again, strict=True))
    assert not torch.equal(first[0], seq_tasks.generate("add", 50, seed=8)[0])


def test_seq_tasks_exact_match_stops_at_the_end_token() -> None:
    from autograder.support import seq_tasks

    _, tgt = seq_tasks.generate("sort", 4, seed=1)
    pred = tgt[:, 1:].clone()
    assert seq_tasks.exact_match(pred, tgt).all()
    eos = (pred == seq_tasks.EOS).int().argmax(dim=1)
    pred[0, eos[0] + 1:] = seq_tasks.DIGIT0  # anything after EOS is ignored
    pred[1, 0] = seq_tasks.PAD if int(pred[1, 0]) != seq_tasks.PAD else seq_tasks.DIGIT0
    assert seq_tasks.exact_match(pred, tgt).tolist() == [True, False, True, True]
    assert seq_tasks.exact_match(pred[:, :2], tgt).tolist()[2:] == [
        bool(int(e) < 2) for e in eos[2:]]


@pytest.mark.parametrize("kwargs", [{"task": "copy"}, {"task": "add", "max_len": 4},
                                    {"task": "sort", "min_len": 5, "max_len": 3},
                                    {"task": "add", "max_digits": 10}, {"task": "reverse", "n": 0}])
def test_seq_tasks_bad_arguments(kwargs) -> None:
    from autograder.support import seq_tasks

    kwargs = {"n": 4, **kwargs}
    with pytest.raises(ValueError):
        seq_tasks.generate(kwargs.pop("task"), kwargs.pop("n"), **kwargs)
