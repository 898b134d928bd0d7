"""Self-check for the PyTorch warm-up: one or two small tests per task, on fixed inputs.

Run them with ``llmsoc check w2_pytorch_basics`` (add ``--debug`` to run your code in-process,
so breakpoints work) or ``pytest tests/public/w2_pytorch_basics``. Expected values come from
snapshots of the reference solution; the graded hidden tests check much more (other shapes and
dtypes, gradients, error handling, invariants) on inputs you cannot see.
"""

import pytest
import torch
from sklearn.datasets import make_moons

from autograder.grading import checks
from autograder.grading.inputs import wave

MLP_CONFIG = (3, 8, 4, 1)  # in, hidden, out, num_hidden_layers


def logits_with_a_huge_row():
    """(4, 5) logits whose last row sits near 1000, where a naive exp() overflows."""
    x = wave(4, 5, scale=4.0)
    x[3] += 1000.0
    return x


def reference_state(ref):
    """State dict of the reference MLP initialised from seed 0."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return ref.MLP(*MLP_CONFIG).state_dict()


def student_mlp(submission, snapshot):
    """The student's MLP holding the reference's seed-0 weights."""
    state = snapshot("mlp_state", reference_state)
    model = submission.MLP(*MLP_CONFIG)
    got = model.state_dict()
    checks.expect(sorted(got) == sorted(state), "shape",
                  f"MLP parameters are named {sorted(got)}, expected {sorted(state)}")
    model.load_state_dict(state)
    return model, state


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Subtract the maximum along dim before exponentiating.")
def test_softmax_basic(submission, snapshot):
    x = logits_with_a_huge_row()
    expected = snapshot("softmax", lambda ref: [ref.softmax(x, dim=-1), ref.softmax(x, dim=0)])
    checks.assert_close(submission.softmax(x, dim=-1), expected[0], what="softmax(x, dim=-1)")
    checks.assert_close(submission.softmax(x, dim=0), expected[1], what="softmax(x, dim=0)")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("log_softmax(x) = (x - m) - log(sum(exp(x - m))) with m the maximum along dim.")
def test_log_softmax_basic(submission, snapshot):
    x = logits_with_a_huge_row()
    expected = snapshot("log_softmax", lambda ref: ref.log_softmax(x, dim=-1))
    checks.assert_close(submission.log_softmax(x, dim=-1), expected, atol=1e-5,
                        what="log_softmax(x, dim=-1)")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Pick -log_softmax(logits)[b, targets[b]] for every row b, then reduce.")
def test_cross_entropy_basic(submission, snapshot):
    logits = wave(6, 4, scale=3.0)
    targets = torch.tensor([0, 3, 1, 2, 2, 0])
    expected = snapshot("cross_entropy", lambda ref: {
        r: ref.cross_entropy(logits, targets, reduction=r) for r in ("mean", "sum", "none")})
    for reduction, value in expected.items():
        checks.assert_close(submission.cross_entropy(logits, targets, reduction=reduction), value,
                            atol=1e-5, what=f"cross_entropy(reduction={reduction!r})")


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("Targets must lie in [0, C): raise ValueError otherwise.")
def test_cross_entropy_rejects_out_of_range_target(submission):
    logits = wave(3, 4)
    checks.assert_raises(ValueError, submission.cross_entropy, logits, torch.tensor([0, 4, 1]))


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("y = x @ weight.T + bias, over any leading dimensions of x.")
def test_linear_basic(submission, snapshot):
    x, w, b = wave(2, 3, 4), wave(5, 4, phase=1.0), wave(5, phase=2.0)
    expected = snapshot("linear", lambda ref: ref.linear(x, w, b))
    out = submission.linear(x, w, b)
    checks.assert_shape(out, (2, 3, 5))
    checks.assert_close(out, expected, atol=1e-5)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Name the parameters weights.{l} and biases.{l} as the MLP docstring says; "
                  "ReLU between layers, none on the logits.")
def test_mlp_forward_basic(submission, snapshot):
    model, state = student_mlp(submission, snapshot)
    x = wave(7, MLP_CONFIG[0], scale=2.0)

    def logits(ref):
        reference_model = ref.MLP(*MLP_CONFIG)
        reference_model.load_state_dict(state)
        with torch.no_grad():
            return reference_model(x)

    checks.assert_close(model(x), snapshot("mlp_logits", logits), atol=1e-5, what="MLP logits")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("theta - lr * (grad + weight_decay * theta), as new tensors.")
def test_sgd_step_basic(submission, snapshot):
    params = [wave(3, 2), wave(2, phase=1.0)]
    grads = [wave(3, 2, phase=2.0), wave(2, phase=3.0)]
    expected = snapshot("sgd_step", lambda ref: ref.sgd_step(params, grads, 0.1, 0.01))
    checks.assert_close(submission.sgd_step(params, grads, 0.1, weight_decay=0.01), expected)


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.hint("zero_grad, forward, cross_entropy, backward, step; return loss.item() from "
                  "before the step.")
def test_train_step_basic(submission, snapshot):
    model, state = student_mlp(submission, snapshot)
    x = wave(10, MLP_CONFIG[0], scale=2.0)
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0, 1])

    def two_steps(ref):
        reference_model = ref.MLP(*MLP_CONFIG)
        reference_model.load_state_dict(state)
        opt = ref.make_optimizer(reference_model, lr=0.5)
        losses = [ref.train_step(reference_model, opt, x, y) for _ in range(2)]
        return {"losses": losses, "state": reference_model.state_dict()}

    expected = snapshot("train_step", two_steps)
    opt = submission.make_optimizer(model, lr=0.5)
    losses = [submission.train_step(model, opt, x, y) for _ in range(2)]
    checks.assert_close(torch.tensor(losses), torch.tensor(expected["losses"]), atol=1e-5,
                        what="losses of two steps")
    checks.assert_close(model.state_dict(), expected["state"], atol=1e-5,
                        what="parameters after two steps")


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.timeout(60)
@pytest.mark.hint("Train longer or with a larger learning rate, and check the loss curve.")
def test_train_moons_basic(submission):
    x, y = make_moons(3000, noise=0.15, random_state=0)
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    model = submission.train_moons(x[:1000], y[:1000], seed=0)
    acc = float((model(x[1000:]).argmax(dim=-1) == y[1000:]).double().mean())
    checks.expect(acc >= 0.97, "threshold", f"held-out accuracy {acc:.3f} < 0.97")
