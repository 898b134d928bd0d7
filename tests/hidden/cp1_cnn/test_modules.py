"""Hidden tests: the Conv2d and MaxPool2d modules and the CNN (parameters, init, forward, grads).

The student's modules get the reference's weights through ``load_state_dict``, so both compute
the same function and can be compared value by value.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from autograder.common.grad import vjp
from autograder.grading import checks

TOL = {"atol": 1e-5, "rtol": 1e-5}
# (in_channels, out_channels, kernel_size, keyword arguments)
CONV_CONFIGS = [(1, 4, 3, {"padding": 1}), (3, 2, (2, 3), {"stride": 2}),
                (2, 5, 3, {"dilation": 2, "padding": (2, 1)}), (4, 3, 1, {"bias": False})]
# CNN(num_classes, image_size, in_channels, channels, hidden)
CNN_CONFIGS = [(10, 8, 1, (16, 32), 64), (4, 12, 1, (16, 32), 64), (3, 16, 2, (4, 6), 10)]


def seeded(seed, build, *args, **kwargs):
    """``build(*args, **kwargs)`` under torch.manual_seed(seed), the global generator untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(*args, **kwargs)


def check_layout(got, expected, what):
    checks.expect(sorted(got) == sorted(expected), "shape",
                  f"{what} state_dict has keys {sorted(got)}, expected {sorted(expected)}")
    for name, tensor in expected.items():
        checks.assert_shape(got[name], tensor.shape, what=f"{what} parameter {name!r}")


def student_copy(submission_cls, ref_model, *args, **kwargs):
    """The student's module built with these arguments, holding ``ref_model``'s weights."""
    model = submission_cls(*args, **kwargs)
    check_layout(model.state_dict(), ref_model.state_dict(), type(ref_model).__name__)
    model.load_state_dict(ref_model.state_dict())
    return model


@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.hint("Conv2d holds weight (out_channels, in_channels, kH, kW) and bias "
                  "(out_channels,) as nn.Parameters named weight and bias; with bias=False "
                  "there is no bias parameter at all.")
def test_conv2d_module_parameters(submission, reference):
    for c_in, c_out, k, kw in CONV_CONFIGS:
        got = submission.Conv2d(c_in, c_out, k, **kw).state_dict()
        check_layout(got, reference.Conv2d(c_in, c_out, k, **kw).state_dict(), "Conv2d")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Initialise like nn.Conv2d: weight and bias uniform in +-1/sqrt(fan_in) with "
                  "fan_in = in_channels * kH * kW (the kernel area counts, out_channels does not).")
def test_conv2d_module_init_statistics(submission, reference):
    c_in, c_out, k = 16, 64, (3, 5)  # fan_in 240, fan_out 960
    state = submission.Conv2d(c_in, c_out, k).state_dict()
    check_layout(state, reference.Conv2d(c_in, c_out, k).state_dict(), "Conv2d")
    bound = 1 / math.sqrt(c_in * k[0] * k[1])
    for name in ("weight", "bias"):
        p = state[name].double()
        checks.expect(float(p.abs().max()) <= bound * (1 + 1e-6), "value",
                      f"Conv2d {name}: max |entry| {float(p.abs().max()):.4g} is above the bound")
        checks.expect(float(p.abs().max()) >= 0.8 * bound, "value",
                      f"Conv2d {name}: entries are too small for the bound")
    w = state["weight"].double()
    std = bound / math.sqrt(3)  # of U(-bound, bound)
    checks.expect(abs(float(w.std()) / std - 1) < 0.05, "value",
                  f"Conv2d weight: std {float(w.std()):.4g} is off")
    checks.expect(abs(float(w.mean())) < 5 * std / math.sqrt(w.numel()), "value",
                  f"Conv2d weight: mean {float(w.mean()):.4g}, expected about 0")
    # a uniform has kurtosis 1.8 (a normal 3)
    kurtosis = float(((w - w.mean()) ** 4).mean() / w.var() ** 2)
    checks.expect(abs(kurtosis - 1.8) < 0.15, "value",
                  f"Conv2d weight: the entries do not look uniform (kurtosis {kurtosis:.2f})")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Conv2d.forward applies your conv2d with the layer's weight, bias, stride, "
                  "padding and dilation.")
def test_conv2d_module_forward(submission, reference, seed, rng):
    for c_in, c_out, k, kw in CONV_CONFIGS:
        ref = seeded(seed, reference.Conv2d, c_in, c_out, k, **kw)
        model = student_copy(submission.Conv2d, ref, c_in, c_out, k, **kw)
        x = torch.randn(3, c_in, 7, 9, generator=rng)
        with torch.no_grad():
            expected = ref(x)
        checks.assert_close(model(x), expected, **TOL, what=f"Conv2d({c_in}, {c_out}, {k}, {kw})")


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.hint("Use self.weight and self.bias directly in forward so that their gradients are "
                  "computed.")
def test_conv2d_module_gradient(submission, reference, seed, rng):
    for c_in, c_out, k, kw in CONV_CONFIGS:
        ref = seeded(seed, reference.Conv2d, c_in, c_out, k, **kw)
        model = student_copy(submission.Conv2d, ref, c_in, c_out, k, **kw)
        x = torch.randn(2, c_in, 6, 7, generator=rng)
        with torch.no_grad():
            g = torch.randn(ref(x).shape, generator=rng)
        checks.assert_grads_close(vjp(model, x, cotangent=g), vjp(ref, x, cotangent=g),
                                  atol=1e-4, rtol=1e-4)


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", ["wrong-channel-count", "in_channels=0"])
@pytest.mark.hint("A Conv2d built for C_in channels must raise ValueError on an input with "
                  "another number of channels, and Conv2d(...) must refuse sizes below 1.")
def test_conv2d_module_rejects_bad_input(submission, rng, case):
    if case == "in_channels=0":
        checks.assert_raises(ValueError, submission.Conv2d, 0, 4, 3)
        return
    layer = submission.Conv2d(3, 4, 3)
    checks.assert_raises(ValueError, layer, torch.randn(2, 1, 8, 8, generator=rng))


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("MaxPool2d.forward applies your max_pool2d with the layer's settings.")
def test_maxpool_module(submission, rng):
    x = torch.randn(2, 3, 9, 8, generator=rng)
    for args in ((2,), (3, 2, 1), ((2, 3), None, (1, 0))):
        checks.assert_close(submission.MaxPool2d(*args)(x), F.max_pool2d(x, *args), **TOL,
                            what=f"MaxPool2d{args}")


@pytest.mark.points(2)
@pytest.mark.category("shape")
@pytest.mark.hint("Read the CNN docstring: conv1, conv2 (Conv2d, 3x3, padding 1), fc1, fc2 "
                  "(nn.Linear) with the sizes it gives; fc1 takes c2 * (S/4)^2 features after "
                  "two 2x2 poolings.")
def test_cnn_parameters(submission, reference):
    for config in CNN_CONFIGS:
        model = submission.CNN(*config)
        state = model.state_dict()
        check_layout(state, reference.CNN(*config).state_dict(), f"CNN{config}")
        logits = model(torch.zeros(2, config[2], config[1], config[1]))
        checks.assert_shape(logits, (2, config[0]), what=f"CNN{config} logits")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("forward: conv1 -> ReLU -> 2x2 max-pool -> conv2 -> ReLU -> 2x2 max-pool -> "
                  "flatten in (channel, row, column) order -> fc1 -> ReLU -> fc2, no softmax.")
def test_cnn_forward_matches_reference(submission, reference, seed, rng):
    for config in CNN_CONFIGS:
        ref = seeded(seed, reference.CNN, *config)
        model = student_copy(submission.CNN, ref, *config)
        x = torch.randn(5, config[2], config[1], config[1], generator=rng)
        with torch.no_grad():
            expected = ref(x)
        checks.assert_close(model(x), expected, **TOL, what=f"CNN{config} logits")


@pytest.mark.points(2)
@pytest.mark.category("gradient")
@pytest.mark.hint("Gradients must reach the input and every parameter of the CNN.")
def test_cnn_gradient(submission, reference, seed, rng):
    for config in CNN_CONFIGS[:2]:
        ref = seeded(seed, reference.CNN, *config)
        model = student_copy(submission.CNN, ref, *config)
        x = torch.randn(4, config[2], config[1], config[1], generator=rng)
        g = torch.randn(4, config[0], generator=rng)
        checks.assert_grads_close(vjp(model, x, cotangent=g), vjp(ref, x, cotangent=g),
                                  atol=1e-4, rtol=1e-4)


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("image_size", [10, 2])
@pytest.mark.hint("CNN(...) must raise ValueError when image_size is not a positive multiple "
                  "of 4 (two 2x2 poolings must divide it evenly).")
def test_cnn_rejects_bad_image_size(submission, image_size):
    checks.assert_raises(ValueError, submission.CNN, 10, image_size)
