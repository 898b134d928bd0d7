"""Hidden tests: sgd_step, accuracy and train_moons (held-out accuracy, reproducibility)."""

import pytest
import torch
from sklearn.datasets import make_moons

from autograder.grading import checks

SHAPES = [(3, 4), (4,), (2, 2, 5), ()]
N_TRAIN, N_TEST = 1000, 4000
NOISE = 0.15  # the Bayes-optimal rule scores about 0.991 at this noise level
PASS_ACCURACY, HALF_CREDIT_ACCURACY = 0.97, 0.90  # reference: min 0.985 over 100 data sets


def params_and_grads(rng, dtype=torch.float64):
    params = [torch.randn(s, generator=rng, dtype=dtype) for s in SHAPES]
    grads = [torch.randn(s, generator=rng, dtype=dtype) for s in SHAPES]
    return params, grads


def moons(np_rng, n_train=N_TRAIN, n_test=N_TEST):
    """Fresh two-moons data: (x_train (n, 2) float32, y_train (n,) int64), (x_test, y_test)."""
    x, y = make_moons(n_train + n_test, noise=NOISE, random_state=int(np_rng.integers(2**31)))
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Plain gradient descent moves every parameter against its gradient, scaled by "
                  "the learning rate; return new tensors in the order of params and leave the "
                  "inputs unchanged.")
def test_sgd_step_values(submission, reference, rng, device):
    params, grads = params_and_grads(rng)
    params, grads = [p.to(device) for p in params], [g.to(device) for g in grads]
    for lr in (0.1, 0.013):
        got = checks.assert_inputs_unchanged(submission.sgd_step, params, grads, lr)
        checks.assert_close(got, reference.sgd_step(params, grads, lr), atol=1e-12, rtol=1e-10,
                            what=f"sgd_step with lr={lr}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Weight decay adds weight_decay * theta to each gradient before the step "
                  "(torch.optim.SGD's rule); it must not be ignored or applied twice.")
def test_sgd_step_weight_decay(submission, reference, rng, device):
    params, grads = params_and_grads(rng)
    params, grads = [p.to(device) for p in params], [g.to(device) for g in grads]
    for lr, wd in ((0.1, 0.01), (0.05, 0.5)):
        checks.assert_close(submission.sgd_step(params, grads, lr, weight_decay=wd),
                            reference.sgd_step(params, grads, lr, weight_decay=wd),
                            atol=1e-12, rtol=1e-10, what=f"sgd_step with weight_decay={wd}")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", ["fewer-grads-than-params", "grad-shape-differs"])
@pytest.mark.hint("sgd_step must raise ValueError when params and grads differ in length, or a "
                  "gradient's shape differs from its parameter's.")
def test_sgd_step_rejects_mismatched_lists(submission, rng, case):
    params, grads = params_and_grads(rng)
    if case == "fewer-grads-than-params":
        grads = grads[:-1]
    else:
        grads[0] = grads[0][:-1]
    checks.assert_raises(ValueError, submission.sgd_step, params, grads, 0.1)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("accuracy is the fraction of rows whose largest logit (over the class axis) is "
                  "at the target, as a Python float.")
def test_accuracy_values(submission, reference, rng, device):
    for B, C in ((50, 4), (7, 2), (1, 5)):
        logits = torch.randn(B, C, generator=rng).to(device)
        targets = torch.randint(0, C, (B,), generator=rng).to(device)
        got = submission.accuracy(logits, targets)
        checks.expect(isinstance(got, float), "dtype",
                      f"accuracy returned {type(got).__name__}, expected a Python float")
        checks.assert_close(torch.tensor(got), torch.tensor(reference.accuracy(logits, targets)),
                            what=f"accuracy of {B} rows")


@pytest.mark.points(4)
@pytest.mark.category("training")
@pytest.mark.timeout(60)
@pytest.mark.hint("Held-out accuracy of the trained MLP is below the bar. Check that the model "
                  "has hidden layers with ReLU, that the loss falls during training (plot it with "
                  "the training script), and the learning rate and number of epochs.")
def test_train_moons_accuracy(submission, seed, np_rng, credit):
    (x_train, y_train), (x_test, y_test) = moons(np_rng)
    model = submission.train_moons(x_train, y_train, seed=seed % 10_000)
    logits = model(x_test)  # the worker never sees y_test
    checks.assert_shape(logits, (N_TEST, 2), what="logits of the trained model")
    acc = float((logits.argmax(dim=-1) == y_test).double().mean())
    if acc >= PASS_ACCURACY:
        return
    checks.expect(acc >= HALF_CREDIT_ACCURACY, "threshold",
                  f"held-out accuracy {acc:.3f} < {HALF_CREDIT_ACCURACY}")
    credit(0.5, f"held-out accuracy {acc:.3f} < {PASS_ACCURACY}: half credit")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("train_moons must be reproducible: seed torch's generator with the `seed` "
                  "argument before building the model, so one seed gives one model and "
                  "another seed another model.")
def test_train_moons_reproducible(submission, seed, np_rng):
    (x_train, y_train), _ = moons(np_rng, n_train=200, n_test=0)
    s = seed % 10_000
    models = [submission.train_moons(x_train, y_train, seed=k, epochs=3) for k in (s, s, s + 1)]
    first, again, other = (model.state_dict() for model in models)
    checks.assert_close(again, first, atol=0.0, rtol=0.0, failure_class="invariant",
                        what="parameters trained twice with the same seed")
    checks.expect(any(not torch.equal(first[k], other[k]) for k in first), "invariant",
                  "two different seeds gave identical models")
