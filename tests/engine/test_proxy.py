"""Proxies to the sandboxed worker (grading/proxy.py, worker/server.py, common/grad.py,
grading/errors.py): calls, objects behind handles, exceptions, gradients, stale and released
handles.

One worker serves the whole module; the submission is also imported locally (same source) so
remote results can be compared with local ones.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks
from autograder.grading.errors import (
    ForbiddenAPIError,
    NotImplementedBySubmission,
    StaleHandle,
    SubmissionError,
)
from autograder.grading.plugin import import_package
from autograder.grading.proxy import (
    RemoteObject,
    Submission,
    Worker,
    WorkerOptions,
    observed_call,
)
from autograder.sandbox.intake import IntakeLimits, read_package

SUBMISSION = {
    "__init__.py": '''
        import torch
        from torch import nn

        from .helpers import explode

        LIVE = {"count": 0}


        class Tracked:
            def __init__(self, tag):
                self.tag = tag
                LIVE["count"] += 1

            def __del__(self):
                LIVE["count"] -= 1

            def describe(self, suffix="!"):
                return f"{self.tag}{suffix}"


        def live_tracked():
            return LIVE["count"]


        def tags(objs):
            return [o.tag for o in objs["items"]]


        class Accumulator:
            def __init__(self, start=0.0):
                self.total = start
                self.history = []

            def add(self, x, *, times=1):
                self.total = self.total + x * times
                self.history.append(self.total)
                return self.total


        class MLP(nn.Module):
            def __init__(self, d_in, d_hidden, d_out, *, scale=1.0):
                super().__init__()
                self.fc1 = nn.Linear(d_in, d_hidden)
                self.fc2 = nn.Linear(d_hidden, d_out)
                self.scale = scale
                self.calls = 0

            def forward(self, x):
                self.calls += 1
                return self.fc2(torch.tanh(self.fc1(x))) * self.scale


        def linear(x, w, b):
            return x @ w.t() + b


        def power(x, n):
            return x ** n


        def detached(x):
            return (x * 3).detach()


        def two_outputs(x):
            return x.sin(), x * x


        def combine(a, b=2, *, c=10, **extra):
            return {"sum": a + b * c, "extra": sorted(extra)}


        def weight_norm(model):
            return model.fc1.weight.norm()


        def same_object(a, b):
            return a is b


        def apply(fn, x):
            return fn(x)


        def bad_value(x):
            if x < 0:
                raise ValueError(f"x must be non-negative, got {x}")
            return x


        def todo():
            raise NotImplementedError("TODO: implement todo")


        def deep():
            return explode(3)


        class Oops(Exception):
            pass


        def custom():
            raise Oops("custom failure")


        def zero_first(x, scale=None):
            x[0] = 0
            if scale is not None:
                scale.mul_(2)
            return x.sum()


        def pure(x, scale=None):
            return x.sum()


        def uses_softmax(x):
            return torch.softmax(x, dim=-1)
        ''',
    "helpers.py": '''
        def explode(n):
            if n == 0:
                return {}["missing"]
            return explode(n - 1)
        ''',
}


@pytest.fixture(scope="module")
def course(make_course) -> Path:
    return make_course(SUBMISSION)


@pytest.fixture(scope="module")
def worker(course: Path) -> Iterator[Worker]:
    intake = read_package(course, ("assignments", "demo"), IntakeLimits())
    w = Worker(WorkerOptions(intake=intake, forbidden=("torch.softmax",), threads=1))
    yield w
    w.close()


@pytest.fixture
def sub(worker: Worker) -> Iterator[Submission]:
    worker.begin_test(60)
    yield Submission(worker)
    worker.end_test()


@pytest.fixture(scope="module")
def local(course: Path) -> ModuleType:
    """The same source imported in this process."""
    return import_package(course / "assignments" / "demo", "llmsoc_proxytest_local")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def line_of(source: str, text: str) -> int:
    import textwrap

    lines = textwrap.dedent(source).lstrip("\n").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


# ----------------------------------------------------------------------------- calls and objects

def test_functions_and_kwargs(sub: Submission, local: ModuleType) -> None:
    x, w, b = (torch.randn(4, 3, generator=gen(1)), torch.randn(2, 3, generator=gen(2)),
               torch.randn(2, generator=gen(3)))
    got = sub.linear(x, w, b)
    assert torch.equal(got, local.linear(x, w, b))
    assert sub.combine(1) == {"sum": 21, "extra": []}
    assert sub.combine(1, 3, c=4, zeta=1, alpha=2) == {"sum": 13, "extra": ["alpha", "zeta"]}
    assert sub.combine(a=2, b=0) == {"sum": 2, "extra": []}
    assert sub.LIVE == {"count": 0}
    assert not hasattr(sub, "no_such_function")
    assert repr(sub) == "<submission demo>"


def test_module_construction_call_and_forward(sub: Submission, local: ModuleType) -> None:
    m = sub.MLP(3, 5, 2, scale=2.0)
    assert isinstance(m, RemoteObject) and "demo.MLP" in repr(m)
    x = torch.randn(4, 3, generator=gen())
    y_call, y_forward = m(x), m.forward(x)
    assert y_call.shape == (4, 2) and torch.equal(y_call, y_forward)
    twin = local.MLP(3, 5, 2, scale=2.0)
    twin.load_state_dict(m.state_dict())
    assert torch.allclose(twin(x), y_call, atol=1e-6, rtol=0)
    assert m.calls == 2


def test_attribute_reads(sub: Submission) -> None:
    m = sub.MLP(3, 5, 2)
    assert m.training is True and m.scale == 1.0 and type(m.calls) is int
    fc1 = m.fc1
    assert isinstance(fc1, RemoteObject) and "Linear" in repr(fc1)
    assert fc1.out_features == 5
    weight = fc1.weight
    assert type(weight) is torch.Tensor and weight.shape == (5, 3)
    assert not weight.requires_grad
    assert torch.equal(weight, m.state_dict()["fc1.weight"])
    m.eval()
    assert m.training is False and m.fc1.training is False


def test_setattr(sub: Submission, local: ModuleType) -> None:
    m = sub.MLP(3, 5, 2)
    x = torch.randn(2, 3, generator=gen())
    y = m(x)
    m.scale = 0.5
    assert m.scale == 0.5
    assert torch.allclose(m(x), 0.5 * y, atol=1e-7, rtol=0)
    m.note = {"k": (1, 2)}
    assert m.note == {"k": (1, 2)}
    m.buddy = sub.Accumulator(7.0)  # a remote object as the value
    assert m.buddy.total == 7.0
    with pytest.raises(TypeError, match="parameter"):  # nn.Module refuses a plain tensor here
        m.fc1.bias = torch.zeros(5)


def test_state_dict_round_trip(sub: Submission, local: ModuleType) -> None:
    a, b = sub.MLP(3, 4, 2), sub.MLP(3, 4, 2)
    x = torch.randn(5, 3, generator=gen())
    sd = a.state_dict()
    assert type(sd) is dict and list(sd) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [tuple(v.shape) for v in sd.values()] == [(4, 3), (4,), (2, 4), (2,)]
    assert not torch.equal(a(x), b(x))
    b.load_state_dict(sd)
    assert torch.equal(a(x), b(x))
    assert all(torch.equal(v, sd[k]) for k, v in b.state_dict().items())
    sd["fc2.weight"] = torch.zeros(2, 4)
    sd["fc2.bias"] = torch.tensor([1.5, -2.0])
    b.load_state_dict(sd)
    assert torch.equal(b(x), torch.tensor([[1.5, -2.0]]).expand(5, 2))
    twin = local.MLP(3, 4, 2)
    twin.load_state_dict(b.state_dict())
    assert torch.equal(twin(x), b(x))


def test_remote_objects_passed_back_as_arguments(sub: Submission) -> None:
    m, other = sub.MLP(3, 4, 2), sub.MLP(3, 4, 2)
    assert torch.allclose(sub.weight_norm(m), m.fc1.weight.norm())
    assert sub.same_object(m, m) is True
    assert sub.same_object(m, other) is False
    items = [sub.Tracked("a"), sub.Tracked("b")]
    assert sub.tags({"items": items}) == ["a", "b"]
    assert sub.tags({"items": (items[1], items[1])}) == ["b", "b"]


def test_methods_of_plain_class_instances(sub: Submission) -> None:
    acc = sub.Accumulator(1.0)
    assert "demo.Accumulator" in repr(acc)
    assert acc.add(2.0) == 3.0
    assert acc.add(1.0, times=3) == 6.0
    assert acc.history == [3.0, 6.0] and acc.total == 6.0
    t = sub.Accumulator(torch.zeros(2))
    t.add(torch.tensor([1.0, 2.0]), times=2)
    assert torch.equal(t.total, torch.tensor([2.0, 4.0]))
    assert sub.Tracked("x").tag == "x"


# ----------------------------------------------------------------------------- exceptions

def test_builtin_exceptions_keep_their_type_and_the_students_frames(sub: Submission) -> None:
    assert sub.bad_value(3) == 3
    with pytest.raises(ValueError, match="non-negative, got -1") as info:
        sub.bad_value(-1)
    exc = info.value
    assert isinstance(exc, SubmissionError) and exc.type_name == "ValueError"
    src = SUBMISSION["__init__.py"]
    assert exc.frames == [("demo/__init__.py", line_of(src, "raise ValueError"), "bad_value",
                           'raise ValueError(f"x must be non-negative, got {x}")')]
    tb = exc.student_traceback()
    assert 'File "demo/__init__.py"' in tb and "ValueError: x must be non-negative" in tb


def test_frames_span_files_and_hide_the_grader(sub: Submission) -> None:
    with pytest.raises(KeyError) as info:
        sub.deep()
    frames = info.value.frames
    helpers = SUBMISSION["helpers.py"]
    assert [f[:3] for f in frames] == (
        [("demo/__init__.py", line_of(SUBMISSION["__init__.py"], "return explode(3)"), "deep")]
        + [("demo/helpers.py", line_of(helpers, "return explode(n - 1)"), "explode")] * 3
        + [("demo/helpers.py", line_of(helpers, '{}["missing"]'), "explode")])
    tb = info.value.student_traceback()
    for secret in ("autograder", "worker.py", "/tmp", "llmsoc-sandbox", "site-packages"):
        assert secret not in tb


def test_non_builtin_exception(sub: Submission) -> None:
    with pytest.raises(SubmissionError) as info:
        sub.custom()
    assert type(info.value) is SubmissionError
    assert info.value.type_name == "Oops" and str(info.value) == "Oops: custom failure"


def test_not_implemented(sub: Submission) -> None:
    with pytest.raises(NotImplementedBySubmission) as info:
        sub.todo()
    assert isinstance(info.value, NotImplementedError)
    assert info.value.message == "TODO: implement todo"
    checks_exc = pytest.raises(NotImplementedBySubmission, checks.assert_raises, ValueError,
                               sub.todo)
    assert checks_exc.value.message == "TODO: implement todo"


def test_forbidden_api_at_run_time(sub: Submission) -> None:
    with pytest.raises(ForbiddenAPIError) as info:
        sub.uses_softmax(torch.zeros(3))
    assert "softmax" in str(info.value)


# ----------------------------------------------------------------------------- gradients

def test_vjp_of_a_remote_function_equals_the_local_one(sub: Submission,
                                                       local: ModuleType) -> None:
    g = gen(5)
    x, w, b = (torch.randn(4, 3, generator=g, dtype=torch.float64),
               torch.randn(2, 3, generator=g, dtype=torch.float64),
               torch.randn(2, generator=g, dtype=torch.float64))
    cot = torch.randn(4, 2, generator=g, dtype=torch.float64)
    remote, mine = vjp(sub.linear, x, w, b, cotangent=cot), vjp(local.linear, x, w, b,
                                                               cotangent=cot)
    assert len(remote.input_grads) == 3 and all(t is not None for t in remote.input_grads)
    assert torch.allclose(remote.input_grads[0], cot @ w)  # d(xW^T + b)/dx
    checks.assert_close(remote.output, mine.output, atol=1e-12, rtol=0)
    checks.assert_grads_close(remote, mine, atol=1e-12, rtol=0)
    assert remote.param_grads == {}
    p = vjp(sub.power, x, 3, cotangent=torch.ones_like(x))
    assert p.input_grads[1] is None
    assert torch.allclose(p.input_grads[0], 3 * x**2)
    pair = vjp(sub.two_outputs, x, cotangent=(torch.ones_like(x), torch.ones_like(x)))
    assert torch.allclose(pair.input_grads[0], x.cos() + 2 * x)


def test_vjp_of_a_remote_module_equals_the_local_one(sub: Submission,
                                                     local: ModuleType) -> None:
    m = sub.MLP(3, 5, 2, scale=1.5)
    twin = local.MLP(3, 5, 2, scale=1.5)
    twin.load_state_dict(m.state_dict())
    g = gen(6)
    x, cot = torch.randn(4, 3, generator=g), torch.randn(4, 2, generator=g)
    mine = vjp(twin, x, cotangent=cot)
    for remote in (vjp(m, x, cotangent=cot), vjp(m.forward, x, cotangent=cot),
                   m.vjp(x, cotangent=cot)):
        assert list(remote.param_grads) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
        assert remote.param_grads["fc2.bias"].shape == (2,)
        assert torch.allclose(remote.param_grads["fc2.bias"], 1.5 * cot.sum(0))
        checks.assert_close(remote.output, mine.output, atol=1e-6, rtol=1e-5)
        checks.assert_grads_close(remote, mine, atol=1e-6, rtol=1e-5)
    assert m.fc1.weight.grad is None  # vjp leaves no .grad behind in the worker


def test_detached_output_gives_none_gradients(sub: Submission) -> None:
    x = torch.randn(3, generator=gen())
    r = vjp(sub.detached, x, cotangent=torch.ones(3))
    assert r.input_grads == (None,) and r.param_grads == {}
    assert torch.equal(r.output, x * 3)


# ----------------------------------------------------------------------------- handles

def test_handles_dropped_here_are_freed_in_the_worker(sub: Submission, worker: Worker) -> None:
    base = sub.live_tracked()
    objs = [sub.Tracked(str(i)) for i in range(4)]
    assert sub.live_tracked() == base + 4
    del objs[:3]
    gc.collect()
    assert sub.live_tracked() == base + 1  # the release rides on this request
    assert worker.pending_release == []
    assert objs[0].describe("?") == "3?"  # the survivor still works
    del objs
    gc.collect()
    assert sub.live_tracked() == base


def test_method_call_on_a_temporary_object(sub: Submission) -> None:
    """Regression: the RemoteCallable keeps its RemoteObject alive, so the handle is not released
    by the very request that calls the method (was a KeyError blamed on the student)."""
    # (outside `assert`: pytest's assertion rewriting would keep the temporary alive)
    text = sub.Tracked("t").describe()
    out = sub.MLP(3, 4, 2).forward(torch.zeros(1, 3))
    assert text == "t!" and out.shape == (1, 2)


def test_remote_function_passed_back_as_argument(sub: Submission) -> None:
    assert sub.apply(sub.bad_value, 4) == 4


def test_stale_handles_after_close(sub: Submission, worker: Worker) -> None:
    m = sub.MLP(3, 4, 2)
    fn = sub.linear
    method = m.forward
    assert m.calls == 0
    worker.close()
    x = torch.zeros(1, 3)
    for action in (lambda: m(x), lambda: method(x), lambda: m.calls,
                   lambda: setattr(m, "scale", 2.0), lambda: fn(x, x, x),
                   lambda: vjp(m, x, cotangent=torch.zeros(1, 2))):
        with pytest.raises(StaleHandle):
            action()
    assert Submission(worker).combine(1, 1, c=1) == {"sum": 2, "extra": []}  # a fresh worker


@pytest.mark.parametrize("where", ["remote", "local"])
def test_a_test_sees_what_a_call_did_to_its_arguments(sub: Submission, local: ModuleType,
                                                      where: str) -> None:
    """The worker only ever holds copies of what is sent, so "the input is left unchanged" is
    observable only through an observed call; in-process it works on copies too."""
    pkg = sub if where == "remote" else local
    x, scale = torch.ones(3), torch.ones(2)
    seen = observed_call(pkg.zero_first, x, scale=scale)
    assert float(seen.result) == 2.0
    assert seen.args[0].tolist() == [0.0, 1.0, 1.0] and seen.kwargs["scale"].tolist() == [2, 2]
    assert x.tolist() == [1.0, 1.0, 1.0] and scale.tolist() == [1.0, 1.0]  # ours untouched
    assert float(checks.assert_inputs_unchanged(pkg.pure, x, scale=scale)) == 3.0
    with pytest.raises(checks.CheckFailure) as info:
        checks.assert_inputs_unchanged(pkg.zero_first, x)
    assert info.value.failure_class == "value" and "argument 1" in str(info.value)
    with pytest.raises(checks.CheckFailure):
        checks.assert_inputs_unchanged(pkg.zero_first, torch.ones(3), scale=torch.ones(2))
