"""Hidden tests: the MLP module (parameters, initialisation, forward, gradients) and train_step.

The student's MLP gets the reference's weights through ``load_state_dict``, so both compute the
same function and can be compared value by value. Models stay on the CPU: they are tiny.
"""

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks

# (in_features, hidden_features, out_features, num_hidden_layers)
CONFIGS = [(2, 16, 3, 1), (5, 7, 4, 2), (3, 6, 2, 0), (4, 8, 2, 3)]
TOL = {"atol": 1e-5, "rtol": 1e-5}


def reference_mlp(reference, seed, config):
    """The reference MLP, initialised from ``seed`` without touching the global generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return reference.MLP(*config)


def check_layout(got, expected):
    """``got`` and ``expected`` state_dicts have the same names and shapes."""
    checks.expect(sorted(got) == sorted(expected), "shape",
                  f"MLP state_dict has keys {sorted(got)}, expected {sorted(expected)}")
    for name, tensor in expected.items():
        checks.assert_shape(got[name], tensor.shape, what=f"parameter {name!r}")


def student_copy(submission, ref_model, config):
    """The student's MLP holding the reference model's weights."""
    model = submission.MLP(*config)
    check_layout(model.state_dict(), ref_model.state_dict())
    model.load_state_dict(ref_model.state_dict())
    return model


def classification_batch(rng, n_in, n_classes, batch=32):
    x = torch.randn(batch, n_in, generator=rng)
    y = torch.randint(0, n_classes, (batch,), generator=rng)
    return x, y


@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.hint("Read the MLP docstring: the parameters must be named weights.{l} (out, in) and "
                  "biases.{l} (out,), for l = 0..num_hidden_layers, in nn.ParameterLists.")
def test_mlp_parameter_names_and_shapes(submission, reference):
    for config in CONFIGS:
        model = submission.MLP(*config)
        check_layout(model.state_dict(), reference.MLP(*config).state_dict())


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Initialise like nn.Linear: every weight and bias entry uniform in "
                  "[-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in being the layer's number of inputs.")
def test_mlp_init_statistics(submission, reference):
    config = (64, 256, 10, 2)  # fan_in differs from fan_out in the first and last layers
    model = submission.MLP(*config)
    state = model.state_dict()
    check_layout(state, reference.MLP(*config).state_dict())
    for layer in range(3):
        bound = state[f"weights.{layer}"].shape[1] ** -0.5
        for name in (f"weights.{layer}", f"biases.{layer}"):
            p = state[name].double()
            checks.expect(float(p.abs().max()) <= bound * (1 + 1e-6), "value",
                          f"{name}: max |entry| {float(p.abs().max()):.4g} > bound {bound:.4g}")
            if p.numel() < 256:
                continue
            std = bound / 3**0.5  # of U(-bound, bound)
            checks.expect(abs(float(p.std()) / std - 1) < 0.15, "value",
                          f"{name}: std {float(p.std()):.4g}, expected about {std:.4g}")
            checks.expect(abs(float(p.mean())) < 5 * std / p.numel() ** 0.5, "value",
                          f"{name}: mean {float(p.mean()):.4g}, expected about 0")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("forward applies your linear layer by layer with a ReLU between layers, and no "
                  "ReLU (nor softmax) on the final logits.")
def test_mlp_forward_matches_reference(submission, reference, seed, rng):
    for config in CONFIGS:
        ref = reference_mlp(reference, seed, config)
        model = student_copy(submission, ref, config)
        x = torch.randn(17, config[0], generator=rng)
        with torch.no_grad():
            expected = ref(x)
        checks.assert_close(model(x), expected, **TOL, what=f"MLP{config} logits")


@pytest.mark.points(2)
@pytest.mark.category("gradient")
@pytest.mark.hint("Gradients must reach the input and every weights.{l} / biases.{l}: register "
                  "them as nn.Parameter and use them directly in forward.")
def test_mlp_gradient(submission, reference, seed, rng):
    for config in CONFIGS:
        ref = reference_mlp(reference, seed, config)
        model = student_copy(submission, ref, config)
        x = torch.randn(9, config[0], generator=rng)
        g = torch.randn(9, config[2], generator=rng)
        checks.assert_grads_close(vjp(model, x, cotangent=g), vjp(ref, x, cotangent=g),
                                  atol=1e-5, rtol=1e-4)


BAD_SIZES = {
    "in_features=0": (0, 4, 2, 1),
    "hidden_features=0": (3, 0, 2, 1),
    "out_features=-1": (3, 4, -1, 1),
    "num_hidden_layers=-1": (3, 4, 2, -1),
}


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", list(BAD_SIZES))
@pytest.mark.hint("MLP(...) must raise ValueError when a layer size is below 1 or "
                  "num_hidden_layers is negative, before creating any parameter.")
def test_mlp_rejects_bad_sizes(submission, case):
    checks.assert_raises(ValueError, submission.MLP, *BAD_SIZES[case])


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("train_step returns the mean cross-entropy of the batch computed before the "
                  "update, as a Python float (loss.item()), and must update the parameters.")
def test_train_step_returns_loss_before_the_step(submission, reference, seed, rng):
    config = (4, 16, 3, 1)
    ref = reference_mlp(reference, seed, config)
    model = student_copy(submission, ref, config)
    x, y = classification_batch(rng, 4, 3)
    with torch.no_grad():
        expected = float(reference.cross_entropy(ref(x), y))
    loss = submission.train_step(model, submission.make_optimizer(model, lr=0.1), x, y)
    checks.expect(isinstance(loss, float), "dtype",
                  f"train_step returned {type(loss).__name__}, expected a Python float")
    checks.assert_close(torch.tensor(loss), torch.tensor(expected), **TOL, what="returned loss")
    after = model.state_dict()
    changed = [k for k, v in ref.state_dict().items() if not torch.equal(after[k], v)]
    checks.expect(len(changed) == len(after), "value",
                  f"only {len(changed)} of {len(after)} parameters changed in a step")


@pytest.mark.points(2)
@pytest.mark.category("training")
@pytest.mark.hint("Two calls of train_step must equal two separate SGD steps: gradients "
                  "accumulate in .grad until they are cleared, so clear them in every step.")
def test_train_step_two_steps_match_reference(submission, reference, seed, rng):
    config = (4, 16, 3, 2)
    ref = reference_mlp(reference, seed, config)
    model = student_copy(submission, ref, config)
    opt, ref_opt = submission.make_optimizer(model, lr=0.2), reference.make_optimizer(ref, lr=0.2)
    for step in range(2):
        x, y = classification_batch(rng, 4, 3)
        loss = submission.train_step(model, opt, x, y)
        expected = reference.train_step(ref, ref_opt, x, y)
        checks.assert_close(torch.tensor(loss), torch.tensor(expected), **TOL,
                            what=f"loss of step {step + 1}")
    checks.assert_close(model.state_dict(), ref.state_dict(), **TOL,
                        what="parameters after two steps")


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.hint("Repeated train_step calls on one batch should lower its loss; check the order "
                  "zero_grad, forward, loss, backward, step.")
def test_train_step_decreases_loss(submission, reference, seed, rng):
    config = (4, 16, 3, 1)
    model = student_copy(submission, reference_mlp(reference, seed, config), config)
    opt = submission.make_optimizer(model, lr=0.1)
    x, y = classification_batch(rng, 4, 3)
    losses = [submission.train_step(model, opt, x, y) for _ in range(10)]
    checks.expect(losses[-1] < losses[0] - 1e-3, "threshold",
                  f"loss went from {losses[0]:.4f} to {losses[-1]:.4f} in 10 steps")
