"""The course support package: data loaders and generators shared by assignments."""

from __future__ import annotations

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
