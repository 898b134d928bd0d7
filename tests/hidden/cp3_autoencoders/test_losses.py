"""Hidden tests: reconstruction losses, the KL divergence, Gaussian log-densities, the
reparameterisation trick and the corruption of the denoising autoencoder."""

import math

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-4, "rtol": 1e-5}, torch.float64: {"atol": 1e-10, "rtol": 1e-10}}
GRAD_TOL = {"atol": 1e-10, "rtol": 1e-8}


def images(rng, batch=6, dtype=torch.float32, device="cpu"):
    """(batch, 1, 8, 8) grey images in [0, 1], with some exact zeros and ones."""
    x = torch.rand(batch, 1, 8, 8, generator=rng, dtype=torch.float64)
    x = torch.where(x < 0.2, torch.zeros_like(x), torch.where(x > 0.85, torch.ones_like(x), x))
    return x.to(dtype).to(device)


def gaussian(rng, batch=5, d=3, dtype=torch.float64, device="cpu"):
    mu = torch.randn(batch, d, generator=rng, dtype=dtype)
    logvar = torch.randn(batch, d, generator=rng, dtype=dtype) * 0.7
    return mu.to(device), logvar.to(device)


# -- reconstruction losses -----------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.hint("mse_loss sums the squared errors over all pixels of an image; 'mean' averages "
                  "these per-image sums over the batch, 'none' returns one value per image.")
def test_mse_loss_values(submission, reference, rng, device, dtype):
    x = images(rng, dtype=dtype, device=device)
    x_hat = images(rng, dtype=dtype, device=device)
    for reduction in ("mean", "none"):
        checks.assert_close(submission.mse_loss(x_hat, x, reduction=reduction),
                            reference.mse_loss(x_hat, x, reduction=reduction), **TOL[dtype],
                            what=f"mse_loss(reduction={reduction!r})")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.hint("bernoulli_nll is sum over pixels of softplus(l) - x * l for logits l and "
                  "targets x (which may be grey values); 'mean' averages the per-image sums.")
def test_bernoulli_nll_values(submission, reference, rng, device, dtype):
    x = images(rng, dtype=dtype, device=device)
    logits = (torch.randn(x.shape, generator=rng, dtype=dtype) * 3).to(device)
    for reduction in ("mean", "none"):
        checks.assert_close(submission.bernoulli_nll(logits, x, reduction=reduction),
                            reference.bernoulli_nll(logits, x, reduction=reduction), **TOL[dtype],
                            what=f"bernoulli_nll(reduction={reduction!r})")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("For logits of size 100 and more, log(sigmoid) and log(1 + exp(l)) overflow or "
                  "underflow; use softplus(l) = max(l, 0) + log1p(exp(-|l|)).")
def test_bernoulli_nll_large_logits(submission, reference, rng, device):
    x = images(rng, device=device)
    sign = torch.randint(0, 2, x.shape, generator=rng).float() * 2 - 1
    logits = (sign * (150 + 50 * torch.rand(x.shape, generator=rng))).to(device)
    got = submission.bernoulli_nll(logits, x, reduction="none")
    checks.assert_close(got, reference.bernoulli_nll(logits, x, reduction="none"),
                        atol=1e-2, rtol=1e-5, what="bernoulli_nll of logits around +-150")


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.hint("Gradients must reach the logits: use differentiable torch operations only. "
                  "d/dl [softplus(l) - x l] = sigmoid(l) - x.")
def test_bernoulli_nll_gradient(submission, reference, rng, device):
    x = images(rng, dtype=torch.float64, device=device)
    logits = (torch.randn(x.shape, generator=rng, dtype=torch.float64) * 3).to(device)
    g = torch.randn(x.shape[0], generator=rng, dtype=torch.float64).to(device)
    got = vjp(submission.bernoulli_nll, logits, x, "none", cotangent=g)
    expected = vjp(reference.bernoulli_nll, logits, x, "none", cotangent=g)
    checks.assert_close(got.input_grads[0], expected.input_grads[0], **GRAD_TOL,
                        what="gradient of bernoulli_nll with respect to the logits",
                        failure_class="gradient")


LOSS_ERRORS = {
    "mse-shapes-differ": ("mse_loss", (6, 1, 8, 8), (6, 1, 8, 7), "mean"),
    "bce-shapes-differ": ("bernoulli_nll", (6, 1, 8, 8), (5, 1, 8, 8), "mean"),
    "mse-unknown-reduction": ("mse_loss", (6, 1, 8, 8), (6, 1, 8, 8), "sum"),
}


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", list(LOSS_ERRORS))
@pytest.mark.hint("The losses raise ValueError when the two tensors differ in shape or the "
                  "reduction is not 'mean' or 'none'.")
def test_losses_reject_bad_input(submission, rng, case):
    fn, shape_a, shape_b, reduction = LOSS_ERRORS[case]
    a, b = torch.rand(shape_a, generator=rng), torch.rand(shape_b, generator=rng)
    checks.assert_raises(ValueError, getattr(submission, fn), a, b, reduction=reduction)


# -- the KL divergence ---------------------------------------------------------------------------

@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.hint("KL(N(mu, exp(logvar)) || N(0, 1)) = 0.5 * sum_j (exp(logvar_j) + mu_j^2 - 1 - "
                  "logvar_j), summed over the latent dimensions of each row.")
def test_kl_divergence_closed_form(submission, rng, device, dtype):
    mu, logvar = gaussian(rng, batch=7, d=4, dtype=dtype, device=device)
    # the closed form written out here, independently of the reference
    var = logvar.double().exp()
    expected = 0.5 * (var + mu.double() ** 2 - 1 - logvar.double()).sum(dim=1)
    got = submission.kl_divergence(mu, logvar, reduction="none")
    checks.assert_close(got, expected.to(dtype), **TOL[dtype], what="per-row KL")
    checks.assert_close(submission.kl_divergence(mu, logvar), expected.mean().to(dtype),
                        **TOL[dtype], what="batch-mean KL")
    zero = torch.zeros(3, 5, dtype=dtype, device=device)
    checks.assert_close(submission.kl_divergence(zero, zero, reduction="none"),
                        torch.zeros(3, dtype=dtype), atol=1e-12, what="KL of the prior to itself")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("The KL must equal E_q[log q(z) - log p(z)]; check the factor 1/2, the sum over "
                  "dimensions, and that logvar is the log of the variance (not of the std).")
def test_kl_divergence_matches_monte_carlo(submission, rng):
    mu, logvar = gaussian(rng, batch=4, d=3)
    n = 200_000  # Monte Carlo estimate in this (trusted) process
    eps = torch.randn(n, *mu.shape, generator=rng, dtype=torch.float64)
    std = (0.5 * logvar).exp()
    z = mu + std * eps  # (n, B, d)
    log_q = (-0.5 * (math.log(2 * math.pi) + logvar + eps ** 2)).sum(-1)
    log_p = (-0.5 * (math.log(2 * math.pi) + z ** 2)).sum(-1)
    diff = log_q - log_p  # (n, B)
    estimate, stderr = diff.mean(0), diff.std(0) / n ** 0.5
    got = submission.kl_divergence(mu, logvar, reduction="none")
    checks.assert_shape(got, (4,), what="kl_divergence(reduction='none')")
    err = (got - estimate).abs()
    checks.expect(bool((err <= 6 * stderr + 1e-6).all()), "value",
                  "kl_divergence differs from a Monte Carlo estimate of E_q[log q - log p]")


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.hint("Gradients of the KL must reach both mu (d/dmu = mu) and logvar "
                  "(d/dlogvar = (exp(logvar) - 1) / 2).")
def test_kl_divergence_gradient(submission, reference, rng, device):
    mu, logvar = gaussian(rng, device=device)
    g = torch.randn(mu.shape[0], generator=rng, dtype=torch.float64).to(device)
    got = vjp(submission.kl_divergence, mu, logvar, "none", cotangent=g)
    expected = vjp(reference.kl_divergence, mu, logvar, "none", cotangent=g)
    checks.assert_close(got.input_grads[:2], expected.input_grads[:2], **GRAD_TOL,
                        what="KL gradients", failure_class="gradient")


# -- log-densities and the reparameterisation trick ----------------------------------------------

@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("log N(z; mu, exp(logvar)) = -0.5 * sum_j (log(2 pi) + logvar_j + (z_j - mu_j)^2 "
                  "/ exp(logvar_j)) over the last axis; it must broadcast z (K, B, d) against "
                  "mu (B, d).")
def test_log_normal_values_and_broadcasting(submission, reference, rng, device):
    mu, logvar = gaussian(rng, device=device)
    z = torch.randn(4, *mu.shape, generator=rng, dtype=torch.float64).to(device)
    got = submission.log_normal(z, mu, logvar)
    checks.assert_shape(got, (4, mu.shape[0]), what="log_normal of z (K, B, d), mu (B, d)")
    checks.assert_close(got, reference.log_normal(z, mu, logvar), **TOL[torch.float64],
                        what="log_normal")
    zeros = torch.zeros_like(mu)
    checks.assert_close(submission.log_normal(z[0], zeros, zeros),
                        reference.log_normal(z[0], zeros, zeros), **TOL[torch.float64],
                        what="log-density of the standard normal prior")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("z = mu + exp(0.5 * logvar) * eps: logvar is the log of the variance, so the "
                  "standard deviation is exp(logvar / 2). eps may have an extra leading axis K.")
def test_reparameterize_values(submission, reference, rng, device):
    mu, logvar = gaussian(rng, device=device)
    for eps_shape in (mu.shape, (3, *mu.shape)):
        eps = torch.randn(eps_shape, generator=rng, dtype=torch.float64).to(device)
        checks.assert_close(submission.reparameterize(mu, logvar, eps),
                            reference.reparameterize(mu, logvar, eps), **TOL[torch.float64],
                            what=f"reparameterize with eps {tuple(eps_shape)}")


@pytest.mark.points(2)
@pytest.mark.category("gradient")
@pytest.mark.hint("Gradients must flow to mu (dz/dmu = 1) and to logvar (dz/dlogvar = "
                  "0.5 * exp(logvar / 2) * eps): do not detach the standard deviation, and do "
                  "not draw z with a sampler that hides the dependence on mu and logvar.")
def test_reparameterize_gradients_reach_mean_and_logvar(submission, reference, rng, device):
    mu, logvar = gaussian(rng, device=device)
    eps = torch.randn(mu.shape, generator=rng, dtype=torch.float64).to(device)
    g = torch.randn(mu.shape, generator=rng, dtype=torch.float64).to(device)
    got = vjp(submission.reparameterize, mu, logvar, eps, cotangent=g)
    expected = vjp(reference.reparameterize, mu, logvar, eps, cotangent=g)
    checks.assert_close(got.input_grads[:2], expected.input_grads[:2], **GRAD_TOL,
                        what="gradients with respect to (mu, logvar)", failure_class="gradient")


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("With eps=None draw eps = torch.randn_like(mu) as a constant (outside the "
                  "graph): then dz/dmu = 1 and dz/dlogvar = (z - mu) / 2, and the samples have "
                  "mean mu and standard deviation exp(logvar / 2).")
def test_reparameterize_draws_constant_noise(submission, rng):
    n, d = 20_000, 3
    mu = (torch.randn(d, generator=rng, dtype=torch.float64) * 2).expand(n, d).contiguous()
    logvar = (torch.randn(d, generator=rng, dtype=torch.float64) * 0.5).expand(n, d).contiguous()
    g = torch.randn(n, d, generator=rng, dtype=torch.float64)
    got = vjp(submission.reparameterize, mu, logvar, cotangent=g)
    z = got.output
    checks.assert_shape(z, (n, d), what="reparameterize(mu, logvar) without eps")
    checks.assert_close(got.input_grads[0], g, **GRAD_TOL, what="dz/dmu (times the cotangent)",
                        failure_class="gradient")
    checks.assert_close(got.input_grads[1], g * 0.5 * (z - mu), atol=1e-8, rtol=1e-6,
                        what="dz/dlogvar (times the cotangent)", failure_class="gradient")
    std = (0.5 * logvar[0]).exp()
    eps = (z - mu) / std  # the noise that was drawn, one row per sample
    checks.expect(bool((eps.mean(0).abs() < 5 / n ** 0.5).all()), "invariant",
                  "the drawn noise does not have mean 0")
    checks.expect(bool(((eps.std(0) - 1).abs() < 0.05).all()), "invariant",
                  "the drawn noise does not have standard deviation 1")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("With (almost) zero variance, logvar -> -infinity, the sample must equal the "
                  "mean whatever the noise.")
def test_reparameterize_zero_variance_gives_the_mean(submission, rng, device):
    mu, _ = gaussian(rng, device=device)
    logvar = torch.full_like(mu, -1e4)  # exp(-5e3) == 0 in float64
    eps = torch.randn(mu.shape, generator=rng, dtype=torch.float64).to(device) * 10
    checks.assert_close(submission.reparameterize(mu, logvar, eps), mu, atol=0.0, rtol=0.0,
                        failure_class="invariant", what="sample with zero variance")


# -- corruption for the denoising autoencoder -----------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("corrupt adds std * noise to x and clamps the result to [0, 1].")
def test_corrupt_values(submission, reference, rng, device):
    x = images(rng, device=device)
    noise = torch.randn(x.shape, generator=rng).to(device)
    for std in (0.0, 0.3, 1.0):
        got = submission.corrupt(x, noise, std)
        checks.assert_close(got, reference.corrupt(x, noise, std), atol=1e-6,
                            what=f"corrupt with std={std}")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", ["negative-std", "noise-shape-differs"])
@pytest.mark.hint("corrupt raises ValueError for a negative std or noise of another shape.")
def test_corrupt_rejects_bad_input(submission, rng, case):
    x = torch.rand(4, 1, 8, 8, generator=rng)
    if case == "negative-std":
        checks.assert_raises(ValueError, submission.corrupt, x, torch.randn(x.shape), -0.1)
    else:
        checks.assert_raises(ValueError, submission.corrupt, x, torch.randn(4, 1, 8, 7), 0.1)
