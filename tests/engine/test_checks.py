"""The comparison helpers graded tests use, and the static forbidden-API scan."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.grading import checks
from autograder.grading.checks import CheckFailure


def test_python_floats_compare_in_double_precision() -> None:
    checks.assert_close(0.1 + 0.2, 0.3, atol=1e-15, rtol=0)
    with pytest.raises(CheckFailure) as info:
        checks.assert_close(1.0 + 1e-9, 1.0, atol=1e-12, rtol=0)  # lost in float32
    assert info.value.failure_class == "value"


def test_a_python_number_matches_a_tensor_of_any_dtype() -> None:
    checks.assert_close(0.5, torch.tensor(0.5, dtype=torch.float32))
    checks.assert_close(torch.tensor(3), 3)


def test_dtypes_of_tensors_and_arrays_must_match() -> None:
    with pytest.raises(CheckFailure) as info:
        checks.assert_close(torch.zeros(2), np.zeros(2))
    assert info.value.failure_class == "dtype"
    checks.assert_close(torch.zeros(2), np.zeros(2), check_dtype=False)


@pytest.mark.parametrize("source", ["import tiktoken\n", "import tiktoken as tk\n",
                                    "from tiktoken import get_encoding\n",
                                    "import tiktoken.core\n"])
def test_a_forbidden_module_is_found_however_it_is_imported(source: str) -> None:
    from autograder.grading.forbidden import analyse

    found = analyse({"m.py": source.encode()}, "demo", ("tiktoken", "torch.softmax")).violations
    assert [v.line for v in found] == [1]
    assert found[0].name.startswith("tiktoken")


def test_an_allowed_module_is_not_reported() -> None:
    from autograder.grading.forbidden import analyse

    assert analyse({"m.py": b"import tiktokenizer\nimport torch\n"}, "demo",
                   ("tiktoken",)).violations == []
