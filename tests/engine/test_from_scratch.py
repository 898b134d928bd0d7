"""The from-scratch rule cannot be bypassed for points (autograder.grading.forbidden).

One submission reaches a forbidden function (``softmax``) in 30 ways; each way is a function of
its own, graded by a test of its own. None of them earns a point, while the honest functions
beside them keep theirs: a violation costs the tests that ran the code it lies in. Code that
runs at import (a custom decorator, a default value, an unparseable or compiled file) costs
every test. The worker's operator check (the second line) refuses ``aten::_softmax`` however
it was reached, outside the training tests.
"""

from __future__ import annotations

import pytest
import torch

from autograder.grading.forbidden import analyse
from autograder.grading.proxy import Submission, Worker, WorkerOptions
from autograder.sandbox.intake import IntakeLimits, read_package

FORBIDDEN = ("torch.softmax", "torch.Tensor.softmax", "torch.nn.functional.softmax")
CONFIG = 'forbidden_ops = ["aten::_softmax"]\n'

WAYS = {
    "direct": "return torch.softmax(x, -1)",
    "method": "return x.softmax(-1)",
    "module_alias": "return F.softmax(x, -1)",
    "imported_name": "return sm(x, -1)",
    "special_alias": "return torch.special.softmax(x, -1)",
    "module_class": "return torch.nn.Softmax(dim=-1)(x)",
    "original_class": "return torch.nn.modules.activation.Softmax(dim=-1)(x)",
    "c_binding": "return torch._C._VariableFunctions.softmax(x, -1)",
    "aten_op": "return torch.ops.aten._softmax(x, -1, False)",
    "aten_overload": "return torch.ops.aten.softmax.int(x, -1)",
    "computed_getattr": 'return getattr(torch, "soft" + "max".strip())(x, -1)',
    "literal_getattr": 'return getattr(torch, "softmax")(x, -1)',
    "eval": 'return eval("torch.softmax")(x, -1)',
    "fake_file": ('ns = {"torch": torch}\n'
                  '    exec(compile("def f(x):\\n    return torch.softmax(x, -1)\\n",\n'
                  '                 "/usr/lib/python3/functools.py", "exec"), ns)\n'
                  '    return ns["f"](x)'),
    "dunder_import": 'return __import__("torch").softmax(x, -1)',
    "importlib": 'return importlib.import_module("torch.nn.functional").softmax(x, -1)',
    "sys_modules": 'return sys.modules["torch"].softmax(x, -1)',
    "vars": 'return vars(torch)["softmax"](x, -1)',
    "module_dict": 'return torch.nn.functional.__dict__["softmax"](x, -1)',
    "type_method": "return type(x).softmax(x, -1)",
    "unbound_method": "return torch.Tensor.softmax(x, -1)",
    "methodcaller": 'return operator.methodcaller("softmax", -1)(x)',
    "getattr_as_value": 'return functools.reduce(getattr, ["softmax"], torch)(x, -1)',
    "pickle": 'return pickle.loads(b"ctorch\\nsoftmax\\n.")(x, -1)',
    "mro": "return x.__class__.__mro__[0].softmax(x, -1)",
    "getattribute": 'return object.__getattribute__(torch, "softmax")(x, -1)',
    "wrapped": "return torch.softmax.__wrapped__(x, -1)",
    "scipy_family": ("return torch.from_numpy(scipy.special.softmax(x.numpy(), -1))"),
    "module_through_variable": "g = F\n    return g.softmax(x, -1)",
    "inspect": ('return dict(inspect.getmembers(torch))["softmax"](x, -1)'),
}

HEADER = """
import functools
import importlib
import inspect
import operator
import pickle
import sys

import scipy.special
import torch
import torch.nn.functional as F
from torch.nn.functional import softmax as sm


def honest(x):
    e = torch.exp(x - x.max(-1, keepdim=True).values)
    return e / e.sum(-1, keepdim=True)


def add(a, b):
    return a + b


def shares_a_file_with_violations(x):
    return honest(x) * 1.0

"""

SUBMISSION = HEADER + "".join(f"\ndef way_{name}(x):\n    {body}\n\n" for name, body in
                              WAYS.items())

TESTS = f"""
import pytest
import torch

from autograder.grading import checks

WAYS = {sorted(WAYS)!r}


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.parametrize("way", WAYS)
def test_way(submission, way):
    x = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    expected = torch.softmax(x, -1)
    checks.assert_close(getattr(submission, "way_" + way)(x), expected, atol=1e-6)


@pytest.mark.points(1)
@pytest.mark.category("value")
def test_honest(submission):
    x = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    checks.assert_close(submission.honest(x), torch.softmax(x, -1), atol=1e-6)
    checks.assert_close(submission.shares_a_file_with_violations(x), torch.softmax(x, -1),
                        atol=1e-6)


@pytest.mark.points(1)
@pytest.mark.category("value")
def test_add(submission):
    assert submission.add(2, 3) == 5
"""


def test_every_way_is_found_statically() -> None:
    """Each of the (at least 20) ``way_*`` functions holds a violation of its own (the rule
    decides before anything runs; the run-time checks are a second line)."""
    assert len(WAYS) >= 20
    found = analyse({"__init__.py": SUBMISSION.encode()}, "demo", FORBIDDEN).violations
    owners = {o for v in found for o in v.owners}
    assert [name for name in WAYS if f"way_{name}" not in owners] == []
    assert not [v for v in found if not v.owners], "nothing here runs at import"
    assert not [v for v in found if {"honest", "add", "shares_a_file_with_violations"}
                & set(v.owners)]


@pytest.fixture(scope="module")
def bypasses(make_course, grade):
    return grade(make_course(SUBMISSION, TESTS, forbidden=FORBIDDEN, config=CONFIG))


def test_no_way_earns_a_point(bypasses) -> None:
    earned = {name: bypasses[f"test_way[{name}]"].earned for name in WAYS}
    assert earned == dict.fromkeys(WAYS, 0.0)
    for name in WAYS:
        t = bypasses[f"test_way[{name}]"]
        assert "from-scratch rule" in t.feedback or t.status == "forbidden", (name, t.feedback)


def test_honest_code_beside_the_violations_keeps_its_points(bypasses) -> None:
    assert bypasses["test_honest"].status == "passed"
    assert bypasses["test_add"].status == "passed"


def test_the_report_lists_every_violation(bypasses) -> None:
    static = next(t for t in bypasses.report.assignments[0].tests
                  if t.nodeid.endswith("::static"))
    assert static.status == "failed" and static.failure_class == "forbidden"
    assert "costs the points of every test that runs" in static.feedback


# ----------------------------------------------------------------------------- import time

HONEST_TESTS = """
import pytest


@pytest.mark.points(1)
@pytest.mark.category("value")
def test_add(submission):
    assert submission.add(2, 3) == 5
"""

AT_IMPORT = {
    "registry": """
        import torch

        REGISTRY = {}

        def register(f):
            REGISTRY[f.__name__] = f
            return f

        @register
        def helper(x):
            return torch.softmax(x, -1)

        def add(a, b):
            return a + b
        """,
    "default_value": """
        import torch

        def add(a, b, f=torch.softmax):
            return a + b
        """,
    "module_statement": """
        import torch
        import torch.nn.functional as F

        F.softmax = torch.softmax  # runs at import
        def add(a, b):
            return a + b
        """,
    "unparseable": {"__init__.py": "def add(a, b):\n    return a + b\n",
                    "notes.py": "def broken(:\n"},
    "bom": {"__init__.py": "\ufeffimport torch\n\ndef add(a, b):\n    return a + b\n\n"
                           "x = torch.softmax(torch.zeros(2), 0)\n"},
}


@pytest.mark.parametrize("case", sorted(AT_IMPORT))
def test_code_run_at_import_costs_every_test(make_course, grade, case) -> None:
    graded = grade(make_course(AT_IMPORT[case], HONEST_TESTS, forbidden=FORBIDDEN))
    assert graded["test_add"].earned == 0, graded["test_add"].feedback
    assert "from-scratch rule" in graded["test_add"].feedback


def test_a_compiled_module_is_a_violation() -> None:
    files = {"__init__.py": b"def add(a, b):\n    return a + b\n",
             "fast.cpython-311-x86_64-linux-gnu.so": b"\x7fELF"}
    found = analyse(files, "demo", FORBIDDEN).violations
    assert [(v.kind, v.owners) for v in found] == [("compiled", ())]


def test_allow_lets_a_named_use_pass() -> None:
    source = b"import torch\n\ndef f(x):\n    return torch.special.softmax(x, 0)\n"
    assert analyse({"m.py": source}, "demo", FORBIDDEN).violations
    assert not analyse({"m.py": source}, "demo", FORBIDDEN,
                       allow=("torch.special.softmax",)).violations
    computed = b"def f(obj, name):\n    return getattr(obj, name)\n"
    assert analyse({"m.py": computed}, "demo", FORBIDDEN).violations
    assert not analyse({"m.py": computed}, "demo", FORBIDDEN, allow=("getattr",)).violations


# ----------------------------------------------------------------------------- operator check

OPS = """
import torch

def through_aten(x):
    return torch.ops.aten._softmax(x, -1, False)

def honest(x):
    e = torch.exp(x - x.max(-1, keepdim=True).values)
    return e / e.sum(-1, keepdim=True)
"""


def test_the_worker_refuses_a_forbidden_operator_however_reached(tmp_path) -> None:
    package = tmp_path / "demo"
    package.mkdir()
    (package / "__init__.py").write_text(OPS)
    intake = read_package(tmp_path, ("demo",), IntakeLimits())
    worker = Worker(WorkerOptions(intake=intake, forbidden=FORBIDDEN,
                                  forbidden_ops=("aten::_softmax",), threads=1))
    try:
        sub = Submission(worker)
        x = torch.randn(2, 4)
        worker.begin_test(30.0, check_ops=True)
        with pytest.raises(Exception) as info:
            sub.through_aten(x)
        assert "aten::_softmax" in str(info.value)
        torch.testing.assert_close(sub.honest(x), torch.softmax(x, -1))
        worker.end_test()
        worker.begin_test(30.0, check_ops=False)  # a training test: no check, no cost
        torch.testing.assert_close(sub.through_aten(x), torch.softmax(x, -1))
        worker.end_test()
    finally:
        worker.close()
