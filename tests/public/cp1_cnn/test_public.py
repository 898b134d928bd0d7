"""Self-check for Checkpoint 1: one or two small tests per task.

Run them with ``llmsoc check cp1_cnn`` (add ``--debug`` to run your code in-process, so
breakpoints work) or ``pytest tests/public/cp1_cnn``. Each test draws its inputs (images,
kernels, shapes, strides, paddings, labels, data sets) from its seed: a fixed one in a
self-check, where the expected values come from snapshots of the reference solution, and a
secret one in the official grade. The graded hidden tests check much more (random
configurations, both float types, gradients, initialisation, error handling, training on fresh
data) on inputs you cannot see.
"""

import pytest
import torch

from autograder.grading import checks
from autograder.support.shapes import make_shapes


def reference_cnn_state(ref, config, torch_seed):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed)
        return ref.CNN(*config).state_dict()


def student_cnn(submission, snapshot, inputs, key):
    """``(model, state, config)``: the student's CNN for a seeded ``(num_classes, image_size)``,
    holding the reference's initial weights (snapshot ``key``)."""
    config = (inputs.randint(3, 10), inputs.choice([4, 8, 12]))
    torch_seed = inputs.torch_seed()
    state = snapshot(key, lambda ref: reference_cnn_state(ref, config, torch_seed))
    model = submission.CNN(*config)
    got = model.state_dict()
    checks.expect(sorted(got) == sorted(state), "shape",
                  f"CNN{config} parameters are named {sorted(got)}, expected {sorted(state)}")
    model.load_state_dict(state)
    return model, state, config


def conv_case(inputs):
    """(size, kernel_size, stride, padding, dilation) where the dilated kernel fits."""
    k, s = inputs.randint(1, 7), inputs.randint(1, 3)
    p, d = inputs.randint(0, 2), inputs.randint(1, 3)
    return inputs.randint(max(1, d * (k - 1) + 1 - 2 * p), 30), k, s, p, d


def distinct_pair(inputs, options):
    """Two different values of ``options``, as a (height, width) pair."""
    return tuple(inputs.sample(options, 2))


@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.hint("floor((n + 2p - d(k-1) - 1) / s) + 1, as a Python int.")
def test_conv_output_size_basic(submission, snapshot, inputs):
    cases = [conv_case(inputs) for _ in range(4)]
    expected = snapshot("conv_output_size", lambda ref: [ref.conv_output_size(*c) for c in cases])
    for case, value in zip(cases, expected, strict=True):
        got = submission.conv_output_size(*case)
        checks.expect(got == value, "shape", f"conv_output_size{case} = {got}, expected {value}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("out[b, c, i*kW + j, p, q] = x[b, c, p*sH + i*dH, q*sW + j*dW].")
def test_sliding_windows_basic(submission, snapshot, inputs):
    b, c = inputs.randint(1, 2), inputs.randint(1, 3)
    h, w = inputs.randint(7, 10), inputs.randint(7, 10)
    x = inputs.wave(b, c, h, w)
    kernel, stride = distinct_pair(inputs, [2, 3, 4]), distinct_pair(inputs, [1, 2])
    dilation = distinct_pair(inputs, [1, 2])
    expected = snapshot("sliding_windows", lambda ref: ref.sliding_windows(
        x, kernel, stride=stride, dilation=dilation))
    got = submission.sliding_windows(x, kernel, stride=stride, dilation=dilation)
    out = [(n - d * (k - 1) - 1) // s + 1
           for n, k, s, d in zip((h, w), kernel, stride, dilation, strict=True)]
    checks.assert_shape(got, (b, c, kernel[0] * kernel[1], *out))
    checks.assert_close(got, expected, atol=0, rtol=0)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Cross-correlation (the kernel is not flipped) over the zero-padded input, "
                  "plus the bias of each output channel.")
def test_conv2d_basic(submission, snapshot, inputs):
    c_in, c_out = inputs.randint(1, 4), inputs.randint(2, 5)
    x = inputs.wave(inputs.randint(1, 3), c_in, inputs.randint(6, 9), inputs.randint(6, 9))
    w = inputs.wave(c_out, c_in, inputs.randint(2, 3), inputs.randint(2, 3))
    b = inputs.wave(c_out)
    settings = [{}, {"stride": inputs.randint(2, 3), "padding": inputs.randint(1, 2)},
                {"stride": distinct_pair(inputs, [1, 2]),
                 "padding": distinct_pair(inputs, [0, 1, 2]), "dilation": 2}]
    expected = snapshot("conv2d", lambda ref: [ref.conv2d(x, w, b, **s) for s in settings])
    for s, value in zip(settings, expected, strict=True):
        checks.assert_close(submission.conv2d(x, w, b, **s), value, atol=1e-5,
                            what=f"conv2d with {s}")


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("Raise ValueError when x's channel count differs from weight's C_in.")
def test_conv2d_rejects_wrong_channel_count(submission, inputs):
    c_x, c_w = inputs.sample(range(1, 5), 2)
    size = inputs.randint(5, 7)
    x = inputs.wave(inputs.randint(1, 2), c_x, size, size)
    w = inputs.wave(inputs.randint(2, 4), c_w, 3, 3)
    checks.assert_raises(ValueError, submission.conv2d, x, w)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Pad max pooling with -inf and average pooling with zeros (counted in the "
                  "mean); the stride defaults to the kernel size.")
def test_pooling_basic(submission, snapshot, inputs):
    x = inputs.wave(inputs.randint(1, 3), inputs.randint(1, 3), inputs.randint(6, 8),
                    inputs.randint(6, 8), scale=2.0)
    k = inputs.randint(2, 4)
    kernel = distinct_pair(inputs, [2, 3, 4])
    settings = [(inputs.randint(2, 3),), (k, inputs.randint(1, 3), inputs.randint(1, k // 2)),
                (kernel, distinct_pair(inputs, [1, 2]),
                 (inputs.randint(1, kernel[0] // 2), inputs.randint(0, kernel[1] // 2)))]
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
def test_cnn_forward_basic(submission, snapshot, inputs):
    model, state, config = student_cnn(submission, snapshot, inputs, "cnn_state")
    x = inputs.wave(inputs.randint(3, 6), 1, config[1], config[1], scale=2.0)

    def logits(ref):
        reference_model = ref.CNN(*config)
        reference_model.load_state_dict(state)
        with torch.no_grad():
            return reference_model(x)

    checks.assert_close(model(x), snapshot("cnn_logits", logits), atol=1e-5, what="CNN logits")


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.hint("zero_grad, forward, mean cross-entropy, backward, step for every batch of the "
                  "seeded permutation; return the per-example mean loss.")
def test_train_epoch_basic(submission, snapshot, inputs):
    model, state, config = student_cnn(submission, snapshot, inputs, "train_epoch_state")
    n = inputs.randint(30, 45)
    x = inputs.wave(n, 1, config[1], config[1], scale=2.0)
    y = inputs.integers(0, config[0], n)
    lr, batch_size = inputs.uniform(0.05, 0.15), inputs.randint(8, 16)
    seed = inputs.randint(0, 9999)  # train_epoch's shuffling seed

    def one_epoch(ref):
        reference_model = ref.CNN(*config)
        reference_model.load_state_dict(state)
        opt = ref.make_optimizer(reference_model, lr, kind="sgd")
        loss = ref.train_epoch(reference_model, opt, x, y, batch_size=batch_size, seed=seed)
        return {"loss": loss, "state": reference_model.state_dict()}

    expected = snapshot("train_epoch", one_epoch)
    opt = submission.make_optimizer(model, lr, kind="sgd")
    loss = submission.train_epoch(model, opt, x, y, batch_size=batch_size, seed=seed)
    checks.assert_close(torch.tensor(loss), torch.tensor(expected["loss"]), atol=1e-4,
                        what="loss of the epoch")
    checks.assert_close(model.state_dict(), expected["state"], atol=1e-4,
                        what="parameters after the epoch")


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.timeout(120)
@pytest.mark.hint("Follow train_classifier's docstring and check the loss curve with train.py.")
def test_train_classifier_shapes_basic(submission, inputs):
    # 2000 held-out images: the reference errs on about 0.3% of them, so 1% stays far off
    x, y = make_shapes(5000, seed=inputs.randint(0, 99_999))
    model = submission.train_classifier(x[:3000], y[:3000], num_classes=4,
                                        seed=inputs.randint(0, 9999), epochs=8, batch_size=64,
                                        lr=5e-3, augment=False)
    acc = float((model(x[3000:]).argmax(dim=1) == y[3000:]).double().mean())
    checks.expect(acc >= 0.99, "threshold", f"held-out shapes accuracy {acc:.3f} < 0.99")
