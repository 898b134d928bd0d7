"""Hidden tests: the MLP and convolutional autoencoders and the VAE with given weights.

The student's model gets the reference's weights through ``load_state_dict`` and the same noise,
so both compute the same function and can be compared value by value.
"""

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks

AUTOENCODERS = {"mlp": ("MLPAutoencoder", (5, 32)), "conv": ("ConvAutoencoder", (3, 4))}
VAE_CONFIG = (4, 32)  # latent_dim, hidden
TOL = {"atol": 1e-5, "rtol": 1e-5}


def reference_model(reference, seed, cls, config):
    """A reference model initialised from ``seed`` without touching the global generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return getattr(reference, cls)(*config).eval()


def student_copy(submission, ref_model, cls, config):
    """The student's model of class ``cls`` holding the reference model's weights."""
    model = getattr(submission, cls)(*config)
    got, expected = model.state_dict(), ref_model.state_dict()
    checks.expect(sorted(got) == sorted(expected), "shape",
                  f"{cls} state_dict has keys {sorted(got)}, expected {sorted(expected)}")
    for name, tensor in expected.items():
        checks.assert_shape(got[name], tensor.shape, what=f"{cls} parameter {name!r}")
    model.load_state_dict(expected)
    model.eval()
    return model


def digits_like(rng, batch=6):
    """(batch, 1, 8, 8) grey images in [0, 1]."""
    x = torch.rand(batch, 1, 8, 8, generator=rng)
    return torch.where(x < 0.4, torch.zeros_like(x), x)


def vae_pair(submission, reference, seed):
    ref = reference_model(reference, seed, "VAE", VAE_CONFIG)
    return student_copy(submission, ref, "VAE", VAE_CONFIG), ref


# -- autoencoders --------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.parametrize("kind", list(AUTOENCODERS))
@pytest.mark.hint("Build the layers exactly as the class docstring lists them (the state_dict "
                  "keys and shapes are graded); encode gives (B, latent_dim), decode_logits and "
                  "forward give (B, 1, 8, 8).")
def test_autoencoder_layout_and_shapes(submission, reference, seed, rng, kind):
    cls, config = AUTOENCODERS[kind]
    model = student_copy(submission, reference_model(reference, seed, cls, config), cls, config)
    x = digits_like(rng, batch=7)
    checks.assert_shape(model.encode(x), (7, config[0]), what=f"{cls}.encode")
    z = torch.randn(3, config[0], generator=rng)
    checks.assert_shape(model.decode_logits(z), (3, 1, 8, 8), what=f"{cls}.decode_logits")
    checks.assert_shape(model(x), (7, 1, 8, 8), what=f"{cls} reconstruction")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.parametrize("kind", list(AUTOENCODERS))
@pytest.mark.hint("decode and forward end in a sigmoid, so every pixel lies in [0, 1]; "
                  "decode_logits returns the values before the sigmoid.")
def test_autoencoder_output_range(submission, reference, seed, rng, kind):
    cls, config = AUTOENCODERS[kind]
    model = student_copy(submission, reference_model(reference, seed, cls, config), cls, config)
    z = torch.randn(50, config[0], generator=rng) * 20  # large codes: logits far from 0
    out = model.decode(z)
    checks.expect(bool(((out >= 0) & (out <= 1)).all()), "invariant",
                  "decode returned pixels outside [0, 1]")
    checks.assert_close(out, torch.sigmoid(model.decode_logits(z)), atol=1e-6,
                        what="decode(z) against sigmoid(decode_logits(z))")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.parametrize("kind", list(AUTOENCODERS))
@pytest.mark.hint("forward(x) = sigmoid(decoder(encoder(x))) with the layers of the docstring, "
                  "in that order, with ReLU only where listed.")
def test_autoencoder_matches_reference(submission, reference, seed, rng, kind):
    cls, config = AUTOENCODERS[kind]
    ref = reference_model(reference, seed, cls, config)
    model = student_copy(submission, ref, cls, config)
    x = digits_like(rng)
    with torch.no_grad():
        code, recon = ref.encode(x), ref(x)
    checks.assert_close(model.encode(x), code, **TOL, what=f"{cls}.encode")
    checks.assert_close(model(x), recon, **TOL, what=f"{cls} reconstruction")


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.parametrize("kind", list(AUTOENCODERS))
@pytest.mark.hint("Gradients must reach the input and every parameter: no detach, no .data, "
                  "no numpy round trips inside the model.")
def test_autoencoder_gradient(submission, reference, seed, rng, kind):
    cls, config = AUTOENCODERS[kind]
    ref = reference_model(reference, seed, cls, config)
    model = student_copy(submission, ref, cls, config)
    x = digits_like(rng)
    g = torch.randn(x.shape, generator=rng)
    checks.assert_grads_close(vjp(model, x, cotangent=g), vjp(ref, x, cotangent=g),
                              atol=1e-5, rtol=1e-4)


# -- the VAE with fixed weights and fixed noise ---------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("encode returns (mu, logvar) from the two heads to_mean and to_logvar on the "
                  "shared hidden layer; forward(x, eps) returns (logits, mu, logvar) with "
                  "z = mu + exp(logvar / 2) * eps.")
def test_vae_encode_and_forward(submission, reference, seed, rng):
    model, ref = vae_pair(submission, reference, seed)
    x = digits_like(rng)
    eps = torch.randn(len(x), VAE_CONFIG[0], generator=rng)
    with torch.no_grad():
        expected_code, expected_out = ref.encode(x), ref(x, eps)
    checks.assert_close(model.encode(x), expected_code, **TOL, what="VAE.encode (mu, logvar)")
    checks.assert_close(model(x, eps), expected_out, **TOL, what="VAE forward (logits, mu, logvar)")


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("negative_elbo = bernoulli_nll of the decoded logits (summed over pixels) + the "
                  "closed-form KL (summed over latent dimensions), per image; 'mean' averages "
                  "over the batch. The reconstruction term compares the logits with x itself.")
def test_vae_negative_elbo_matches_reference(submission, reference, seed, rng):
    model, ref = vae_pair(submission, reference, seed)
    x = digits_like(rng, batch=9)
    eps = torch.randn(len(x), VAE_CONFIG[0], generator=rng)
    with torch.no_grad():
        per_image = ref.negative_elbo(x, eps, reduction="none")
    checks.assert_close(model.negative_elbo(x, eps, reduction="none"), per_image, atol=1e-4,
                        rtol=1e-5, what="negative ELBO per image")
    checks.assert_close(model.negative_elbo(x, eps), per_image.mean(), atol=1e-4, rtol=1e-5,
                        what="negative ELBO, batch mean")


@pytest.mark.points(2)
@pytest.mark.category("gradient")
@pytest.mark.hint("The negative ELBO must backpropagate into every parameter, encoder heads "
                  "included: both its terms depend on mu and logvar (through z and the KL).")
def test_vae_negative_elbo_gradient(submission, reference, seed, rng):
    model, ref = vae_pair(submission, reference, seed)
    x = digits_like(rng, batch=9)
    eps = torch.randn(len(x), VAE_CONFIG[0], generator=rng)
    one = torch.tensor(1.0)
    checks.assert_grads_close(model.negative_elbo.vjp(x, eps, cotangent=one),
                              vjp(ref.negative_elbo, x, eps, cotangent=one), atol=1e-4, rtol=1e-4)


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("iwae_nll: log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) for the K rows "
                  "of eps; the NLL estimate is -(log of the mean over k of exp(log w_k)).")
def test_vae_iwae_nll_matches_reference(submission, reference, seed, rng):
    model, ref = vae_pair(submission, reference, seed)
    x = digits_like(rng, batch=5)
    for k in (1, 7):
        eps = torch.randn(k, len(x), VAE_CONFIG[0], generator=rng)
        with torch.no_grad():
            expected = ref.iwae_nll(x, eps, reduction="none")
        checks.assert_close(model.iwae_nll(x, eps, reduction="none"), expected, atol=1e-4,
                            rtol=1e-5, what=f"IWAE NLL with K={k}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("A confident decoder makes log w_k of -1000 and less, whose exp is 0: "
                  "subtract the maximum over k before exponentiating (log-sum-exp).")
def test_vae_iwae_nll_is_stable(submission, reference, seed, rng):
    ref = reference_model(reference, seed, "VAE", VAE_CONFIG)
    with torch.no_grad():  # a decoder with huge logits: log p(x|z) is around -1000
        ref.decoder[2].weight.mul_(40)
        ref.decoder[2].bias.mul_(40)
    model = student_copy(submission, ref, "VAE", VAE_CONFIG)
    x = digits_like(rng, batch=5)
    eps = torch.randn(10, len(x), VAE_CONFIG[0], generator=rng)
    with torch.no_grad():
        expected = ref.iwae_nll(x, eps, reduction="none")
    checks.assert_close(model.iwae_nll(x, eps, reduction="none"), expected, atol=1e-2, rtol=1e-5,
                        what="IWAE NLL with a confident decoder")


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("With K = 1, log w = log p(x|z) + log p(z) - log q(z|x) is a one-sample "
                  "estimate of the ELBO: on average over the noise it must equal negative_elbo, "
                  "whose KL is the expectation of log q - log p.")
def test_vae_iwae_with_one_sample_is_the_elbo_on_average(submission, reference, seed, rng):
    model, _ = vae_pair(submission, reference, seed)
    x = digits_like(rng, batch=4)
    reps = 2000
    batch = x.repeat(reps, 1, 1, 1)  # (reps * 4, 1, 8, 8): row r * 4 + b is image b
    eps = torch.randn(reps * len(x), VAE_CONFIG[0], generator=rng)
    iwae = model.iwae_nll(batch, eps[None], reduction="none").double().reshape(reps, len(x))
    elbo = model.negative_elbo(batch, eps, reduction="none").double().reshape(reps, len(x))
    diff = iwae - elbo  # log q - log p at the sampled z minus the closed-form KL
    mean, stderr = diff.mean(0), diff.std(0) / reps ** 0.5
    checks.expect(bool((mean.abs() <= 6 * stderr + 1e-4).all()), "invariant",
                  "IWAE NLL with K = 1 differs from the negative ELBO on average")


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("The IWAE bound tightens with K: averaged over the noise, the estimate with "
                  "K = 50 must be below K = 5, which must be below K = 1. Averaging log w over k "
                  "instead of taking the log of the mean weight loses this.")
def test_vae_iwae_tightens_with_more_samples(submission, reference, seed, rng):
    ref = reference_model(reference, seed, "VAE", VAE_CONFIG)
    with torch.no_grad():  # a sharper decoder: log w varies more, so the gaps between K are wide
        ref.decoder[2].weight.mul_(8)
        ref.decoder[2].bias.mul_(8)
    model = student_copy(submission, ref, "VAE", VAE_CONFIG)
    x = digits_like(rng, batch=4)
    reps = 50
    batch = x.repeat(reps, 1, 1, 1)
    means = {}
    for k in (1, 5, 50):
        eps = torch.randn(k, len(batch), VAE_CONFIG[0], generator=rng)
        means[k] = float(model.iwae_nll(batch, eps))
    checks.expect(means[50] < means[5] < means[1], "invariant",
                  f"IWAE NLL by K: {means} does not decrease")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("sample(n, seed) draws z = torch.randn(n, latent_dim, generator=g) with "
                  "g = torch.Generator().manual_seed(seed) and returns decode(z), in [0, 1].")
def test_vae_sample_from_the_prior(submission, reference, seed):
    model, ref = vae_pair(submission, reference, seed)
    s = seed % 10_000
    got = model.sample(16, seed=s)
    checks.assert_shape(got, (16, 1, 8, 8), what="sample(16)")
    with torch.no_grad():
        checks.assert_close(got, ref.sample(16, seed=s), **TOL, what="prior samples")
    checks.expect(bool(((got >= 0) & (got <= 1)).all()), "invariant",
                  "samples have pixels outside [0, 1]")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("reconstruct decodes the encoder mean (no noise): decode(mu).")
def test_vae_reconstruct(submission, reference, seed, rng):
    model, ref = vae_pair(submission, reference, seed)
    x = digits_like(rng)
    with torch.no_grad():
        expected = ref.reconstruct(x)
    checks.assert_close(model.reconstruct(x), expected, **TOL, what="reconstruction")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("interpolate decodes (1 - t) mu_a + t mu_b for t = linspace(0, 1, steps): the "
                  "first image is reconstruct(x_a) and the last reconstruct(x_b).")
def test_vae_interpolate(submission, reference, seed, rng):
    model, ref = vae_pair(submission, reference, seed)
    x = digits_like(rng, batch=2)
    for steps in (2, 7):
        got = model.interpolate(x[0], x[1], steps)
        checks.assert_shape(got, (steps, 1, 8, 8), what=f"interpolate with {steps} steps")
        with torch.no_grad():
            checks.assert_close(got, ref.interpolate(x[0], x[1], steps), **TOL,
                                what=f"interpolation with {steps} steps")
    ends = model.reconstruct(x)
    checks.assert_close(got[[0, -1]], ends, **TOL, what="interpolation endpoints")


# -- bad input ------------------------------------------------------------------------------------

BAD_IMAGES = {
    "flat-vectors": (4, 64),
    "no-channel-axis": (4, 8, 8),
    "wrong-image-size": (4, 1, 7, 7),
    "three-channels": (4, 3, 8, 8),
}


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", list(BAD_IMAGES))
@pytest.mark.hint("encode must raise ValueError unless the input is a batch of images "
                  "(B, 1, 8, 8), in every model.")
def test_models_reject_wrong_image_shapes(submission, rng, case):
    x = torch.rand(BAD_IMAGES[case], generator=rng)
    for cls, config in (*AUTOENCODERS.values(), ("VAE", VAE_CONFIG)):
        checks.assert_raises(ValueError, getattr(submission, cls)(*config).encode, x)


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("cls", ["MLPAutoencoder", "ConvAutoencoder", "VAE"])
@pytest.mark.hint("A latent dimension below 1 must raise ValueError in the constructor.")
def test_models_reject_latent_dim_below_one(submission, cls):
    for latent_dim in (0, -2):
        checks.assert_raises(ValueError, getattr(submission, cls), latent_dim)


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.hint("interpolate raises ValueError for steps < 2 or inputs that are not single "
                  "images (1, 8, 8); sample raises ValueError for num_samples < 1.")
def test_vae_rejects_bad_arguments(submission, rng):
    model = submission.VAE(*VAE_CONFIG)
    x = torch.rand(2, 1, 8, 8, generator=rng)
    checks.assert_raises(ValueError, model.interpolate, x[0], x[1], 1)
    checks.assert_raises(ValueError, model.interpolate, x, x, 4)
    checks.assert_raises(ValueError, model.sample, 0)
