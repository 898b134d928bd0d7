"""Self-check for the PyTorch warm-up: one or two small tests per task.

Run them with ``llmsoc check w2_pytorch_basics`` (add ``--debug`` to run your code in-process,
so breakpoints work) or ``pytest tests/public/w2_pytorch_basics``. Each test draws its inputs
(values, shapes, targets, layer sizes, learning rates, data sets) from its seed: a fixed one in a
self-check, where the expected values come from snapshots of the reference solution, and a
secret one in the official grade. The graded hidden tests check much more (other shapes and
dtypes, gradients, error handling, invariants) on inputs you cannot see.
"""

import pytest
import torch
from sklearn.datasets import make_moons

from autograder.grading import checks


def logits_with_a_huge_row(inputs):
    """(R, C) logits with one row shifted to about 1000, where a naive exp() overflows."""
    rows, cols = inputs.randint(3, 6), inputs.randint(4, 7)
    x = inputs.wave(rows, cols, scale=4.0)
    x[inputs.randint(0, rows - 1)] += inputs.uniform(900.0, 1100.0)
    return x


def mlp_config(inputs):
    """(in_features, hidden_features, out_features, num_hidden_layers)."""
    return (inputs.randint(2, 5), inputs.randint(4, 10), inputs.randint(3, 6),
            inputs.randint(1, 3))


def reference_state(ref, config, torch_seed):
    """State dict of the reference MLP initialised from ``torch_seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed)
        return ref.MLP(*config).state_dict()


def student_mlp(submission, snapshot, inputs, key):
    """``(model, state, config)``: the student's MLP of a seeded configuration, holding the
    reference's initial weights (snapshot ``key``)."""
    config, torch_seed = mlp_config(inputs), inputs.torch_seed()
    state = snapshot(key, lambda ref: reference_state(ref, config, torch_seed))
    model = submission.MLP(*config)
    got = model.state_dict()
    checks.expect(sorted(got) == sorted(state), "shape",
                  f"MLP{config} parameters are named {sorted(got)}, expected {sorted(state)}")
    model.load_state_dict(state)
    return model, state, config


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Subtract the maximum along dim before exponentiating.")
def test_softmax_basic(submission, snapshot, inputs):
    x = logits_with_a_huge_row(inputs)
    expected = snapshot("softmax", lambda ref: [ref.softmax(x, dim=-1), ref.softmax(x, dim=0)])
    checks.assert_close(submission.softmax(x, dim=-1), expected[0], what="softmax(x, dim=-1)")
    checks.assert_close(submission.softmax(x, dim=0), expected[1], what="softmax(x, dim=0)")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("log_softmax(x) = (x - m) - log(sum(exp(x - m))) with m the maximum along dim.")
def test_log_softmax_basic(submission, snapshot, inputs):
    x = logits_with_a_huge_row(inputs)
    expected = snapshot("log_softmax", lambda ref: ref.log_softmax(x, dim=-1))
    checks.assert_close(submission.log_softmax(x, dim=-1), expected, atol=1e-5,
                        what="log_softmax(x, dim=-1)")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Pick -log_softmax(logits)[b, targets[b]] for every row b, then reduce.")
def test_cross_entropy_basic(submission, snapshot, inputs):
    batch, classes = inputs.randint(5, 8), inputs.randint(3, 6)
    logits = inputs.wave(batch, classes, scale=3.0)
    targets = inputs.integers(0, classes, batch)
    expected = snapshot("cross_entropy", lambda ref: {
        r: ref.cross_entropy(logits, targets, reduction=r) for r in ("mean", "sum", "none")})
    for reduction, value in expected.items():
        checks.assert_close(submission.cross_entropy(logits, targets, reduction=reduction), value,
                            atol=1e-5, what=f"cross_entropy(reduction={reduction!r})")


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("Targets must lie in [0, C): raise ValueError otherwise.")
def test_cross_entropy_rejects_out_of_range_target(submission, inputs):
    batch, classes = inputs.randint(3, 6), inputs.randint(3, 6)
    logits = inputs.wave(batch, classes)
    targets = inputs.integers(0, classes, batch)
    targets[inputs.randint(0, batch - 1)] = classes + inputs.randint(0, 2)
    checks.assert_raises(ValueError, submission.cross_entropy, logits, targets)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("y = x @ weight.T + bias, over any leading dimensions of x.")
def test_linear_basic(submission, snapshot, inputs):
    lead = (inputs.randint(1, 3), inputs.randint(2, 4))
    n_in, n_out = inputs.randint(3, 6), inputs.randint(2, 6)
    x, w, b = inputs.wave(*lead, n_in), inputs.wave(n_out, n_in), inputs.wave(n_out)
    expected = snapshot("linear", lambda ref: ref.linear(x, w, b))
    out = submission.linear(x, w, b)
    checks.assert_shape(out, (*lead, n_out))
    checks.assert_close(out, expected, atol=1e-5)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Name the parameters weights.{l} and biases.{l} as the MLP docstring says; "
                  "ReLU between layers, none on the logits.")
def test_mlp_forward_basic(submission, snapshot, inputs):
    model, state, config = student_mlp(submission, snapshot, inputs, "mlp_state")
    x = inputs.wave(inputs.randint(5, 9), config[0], scale=2.0)

    def logits(ref):
        reference_model = ref.MLP(*config)
        reference_model.load_state_dict(state)
        with torch.no_grad():
            return reference_model(x)

    checks.assert_close(model(x), snapshot("mlp_logits", logits), atol=1e-5, what="MLP logits")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("theta - lr * (grad + weight_decay * theta), as new tensors.")
def test_sgd_step_basic(submission, snapshot, inputs):
    shapes = [(inputs.randint(2, 4), inputs.randint(2, 4)), (inputs.randint(2, 5),)]
    params = [inputs.wave(*s) for s in shapes]
    grads = [inputs.wave(*s) for s in shapes]
    lr, weight_decay = inputs.uniform(0.05, 0.5), inputs.uniform(0.001, 0.05)
    expected = snapshot("sgd_step", lambda ref: ref.sgd_step(params, grads, lr, weight_decay))
    checks.assert_close(submission.sgd_step(params, grads, lr, weight_decay=weight_decay),
                        expected)


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.hint("zero_grad, forward, cross_entropy, backward, step; return loss.item() from "
                  "before the step.")
def test_train_step_basic(submission, snapshot, inputs):
    model, state, config = student_mlp(submission, snapshot, inputs, "train_step_state")
    batch = inputs.randint(8, 12)
    x = inputs.wave(batch, config[0], scale=2.0)
    y = inputs.integers(0, config[2], batch)
    lr = inputs.uniform(0.1, 0.5)

    def two_steps(ref):
        reference_model = ref.MLP(*config)
        reference_model.load_state_dict(state)
        opt = ref.make_optimizer(reference_model, lr=lr)
        losses = [ref.train_step(reference_model, opt, x, y) for _ in range(2)]
        return {"losses": losses, "state": reference_model.state_dict()}

    expected = snapshot("train_step", two_steps)
    opt = submission.make_optimizer(model, lr=lr)
    losses = [submission.train_step(model, opt, x, y) for _ in range(2)]
    checks.assert_close(torch.tensor(losses), torch.tensor(expected["losses"]), atol=1e-5,
                        what="losses of two steps")
    checks.assert_close(model.state_dict(), expected["state"], atol=1e-5,
                        what="parameters after two steps")


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.timeout(60)
@pytest.mark.hint("Train longer or with a larger learning rate, and check the loss curve.")
def test_train_moons_basic(submission, inputs):
    x, y = make_moons(3000, noise=0.15, random_state=inputs.randint(0, 2**31 - 1))
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    model = submission.train_moons(x[:1000], y[:1000], seed=inputs.randint(0, 9999))
    acc = float((model(x[1000:]).argmax(dim=-1) == y[1000:]).double().mean())
    checks.expect(acc >= 0.97, "threshold", f"held-out accuracy {acc:.3f} < 0.97")
