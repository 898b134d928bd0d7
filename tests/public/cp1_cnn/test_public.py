"""Self-check for Checkpoint 1: one or two small tests per task, on fixed inputs.

Run them with ``llmsoc check cp1_cnn`` (add ``--debug`` to run your code in-process, so
breakpoints work) or ``pytest tests/public/cp1_cnn``. Expected values come from snapshots of the
reference solution; the graded hidden tests check much more (random configurations, both float
types, gradients, initialisation, error handling, training on fresh data) on inputs you cannot
see.
"""

import pytest
import torch

from autograder.grading import checks
from autograder.grading.inputs import wave
from autograder.support.shapes import make_shapes

CNN_CONFIG = (10, 8)  # num_classes, image_size


def reference_cnn_state(ref):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return ref.CNN(*CNN_CONFIG).state_dict()


def student_cnn(submission, snapshot):
    """The student's CNN holding the reference's seed-0 weights."""
    state = snapshot("cnn_state", reference_cnn_state)
    model = submission.CNN(*CNN_CONFIG)
    got = model.state_dict()
    checks.expect(sorted(got) == sorted(state), "shape",
                  f"CNN parameters are named {sorted(got)}, expected {sorted(state)}")
    model.load_state_dict(state)
    return model, state


@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.hint("floor((n + 2p - d(k-1) - 1) / s) + 1, as a Python int.")
def test_conv_output_size_basic(submission, snapshot):
    cases = [(8, 3, 1, 1, 1), (28, 5, 2, 0, 1), (10, 3, 3, 2, 2), (7, 7, 1, 0, 1)]
    expected = snapshot("conv_output_size", lambda ref: [ref.conv_output_size(*c) for c in cases])
    for case, value in zip(cases, expected, strict=True):
        got = submission.conv_output_size(*case)
        checks.expect(got == value, "shape", f"conv_output_size{case} = {got}, expected {value}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("out[b, c, i*kW + j, p, q] = x[b, c, p*sH + i*dH, q*sW + j*dW].")
def test_sliding_windows_basic(submission, snapshot):
    x = wave(1, 2, 5, 6)
    expected = snapshot("sliding_windows",
                        lambda ref: ref.sliding_windows(x, (2, 3), stride=(1, 2), dilation=(2, 1)))
    got = submission.sliding_windows(x, (2, 3), stride=(1, 2), dilation=(2, 1))
    checks.assert_shape(got, (1, 2, 6, 3, 2))
    checks.assert_close(got, expected, atol=0, rtol=0)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Cross-correlation (the kernel is not flipped) over the zero-padded input, "
                  "plus the bias of each output channel.")
def test_conv2d_basic(submission, snapshot):
    x, w, b = wave(2, 3, 7, 6), wave(4, 3, 3, 3, phase=1.0), wave(4, phase=2.0)
    settings = [{}, {"stride": 2, "padding": 1}, {"stride": (1, 2), "padding": (2, 0),
                                                  "dilation": 2}]
    expected = snapshot("conv2d", lambda ref: [ref.conv2d(x, w, b, **s) for s in settings])
    for s, value in zip(settings, expected, strict=True):
        checks.assert_close(submission.conv2d(x, w, b, **s), value, atol=1e-5,
                            what=f"conv2d with {s}")


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("Raise ValueError when x's channel count differs from weight's C_in.")
def test_conv2d_rejects_wrong_channel_count(submission):
    checks.assert_raises(ValueError, submission.conv2d, wave(1, 2, 5, 5), wave(4, 3, 3, 3))


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Pad max pooling with -inf and average pooling with zeros (counted in the "
                  "mean); the stride defaults to the kernel size.")
def test_pooling_basic(submission, snapshot):
    x = wave(2, 3, 7, 6, scale=2.0)
    settings = [(2,), (3, 2, 1), ((2, 3), (1, 2), (1, 1))]
    expected = snapshot("pooling", lambda ref: {
        "max": [ref.max_pool2d(x, *s) for s in settings],
        "avg": [ref.avg_pool2d(x, *s) for s in settings]})
    for i, s in enumerate(settings):
        checks.assert_close(submission.max_pool2d(x, *s), expected["max"][i], atol=1e-6,
                            what=f"max_pool2d{s}")
        checks.assert_close(submission.avg_pool2d(x, *s), expected["avg"][i], atol=1e-6,
                            what=f"avg_pool2d{s}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Name the parameters as the CNN docstring says; conv -> ReLU -> pool twice, "
                  "flatten, fc1 -> ReLU -> fc2.")
def test_cnn_forward_basic(submission, snapshot):
    model, state = student_cnn(submission, snapshot)
    x = wave(5, 1, 8, 8, scale=2.0)

    def logits(ref):
        reference_model = ref.CNN(*CNN_CONFIG)
        reference_model.load_state_dict(state)
        with torch.no_grad():
            return reference_model(x)

    checks.assert_close(model(x), snapshot("cnn_logits", logits), atol=1e-5, what="CNN logits")


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.hint("zero_grad, forward, mean cross-entropy, backward, step for every batch of the "
                  "seeded permutation; return the per-example mean loss.")
def test_train_epoch_basic(submission, snapshot):
    model, state = student_cnn(submission, snapshot)
    x = wave(40, 1, 8, 8, scale=2.0)
    y = torch.arange(40) % 10

    def one_epoch(ref):
        reference_model = ref.CNN(*CNN_CONFIG)
        reference_model.load_state_dict(state)
        opt = ref.make_optimizer(reference_model, 0.1, kind="sgd")
        loss = ref.train_epoch(reference_model, opt, x, y, batch_size=16, seed=3)
        return {"loss": loss, "state": reference_model.state_dict()}

    expected = snapshot("train_epoch", one_epoch)
    opt = submission.make_optimizer(model, 0.1, kind="sgd")
    loss = submission.train_epoch(model, opt, x, y, batch_size=16, seed=3)
    checks.assert_close(torch.tensor(loss), torch.tensor(expected["loss"]), atol=1e-4,
                        what="loss of the epoch")
    checks.assert_close(model.state_dict(), expected["state"], atol=1e-4,
                        what="parameters after the epoch")


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.timeout(120)
@pytest.mark.hint("Follow train_classifier's docstring and check the loss curve with train.py.")
def test_train_classifier_shapes_basic(submission):
    x, y = make_shapes(3500, seed=0)
    model = submission.train_classifier(x[:3000], y[:3000], num_classes=4, seed=0, epochs=8,
                                        batch_size=64, lr=5e-3, augment=False)
    acc = float((model(x[3000:]).argmax(dim=1) == y[3000:]).double().mean())
    checks.expect(acc >= 0.99, "threshold", f"held-out shapes accuracy {acc:.3f} < 0.99")
