"""Hidden tests: training in the worker, judged in the trusted process on held-out digits.

Every test splits scikit-learn's digits with its own seed (``heldout_seed`` where the test images
are scored: an independent secret stream), trains the student's model on the training and
validation parts (1,528 images) and measures on the 269 test images, which the worker sees only
as inputs (the digits file itself is hidden from it). The bars come from the reference over 20 seeds
(benchmarks/cp3_autoencoders.py); the numbers beside each are its mean and worst case.
"""

import numpy as np
import pytest
import torch

from autograder.grading import checks
from autograder.support.digits import load_digits_split

MLP_MSE_BAR = 0.020  # reference: mean 0.0137, max 0.0149 per-pixel MSE; PCA-8 scores 0.0244
CONV_MSE_BAR = 0.020  # reference (MSE loss, 20 epochs): mean 0.0148, max 0.0162
NOISE_STD = 0.5
DENOISE_MSE_BAR = 0.047  # reference: mean 0.0368, max 0.0390; the noisy input itself: 0.117;
# trained to reproduce its noisy input instead of the clean image: 0.0556 to 0.0606
NEG_ELBO_BAR = 26.0  # nats per image; reference: mean 24.49, max 24.77; independent pixels: 27.14
MAX_PROB_BAR = 0.60  # reference: mean 0.670, sd 0.014, min 0.644; without the KL term: 0.58
MIN_CLASSES, N_SAMPLES, MIN_PER_CLASS = 8, 500, 5  # reference: 10 classes on every seed
INTERP_MSE_BAR = 0.045  # reference: mean 0.0280, max 0.0326


def digits(seed):
    """(x_train (1528, 1, 8, 8), y_train (1528,), x_test (269, 1, 8, 8)) in [0, 1]."""
    split = load_digits_split(seed % 2**31, scaling="unit")
    return (torch.cat([split.x_train, split.x_val]), torch.cat([split.y_train, split.y_val]),
            split.x_test)


def pixel_mse(a, b):
    return float(((a.double() - b.double()) ** 2).mean())


def in_unit_range(x, what):
    checks.expect(bool(((x >= 0) & (x <= 1)).all()), "invariant",
                  f"{what} has pixels outside [0, 1]")


def reconstruction_error(model, x_in, x_clean, what):
    out = model(x_in)  # the worker sees only the inputs
    checks.assert_shape(out, x_clean.shape, what=what)
    in_unit_range(out, what)
    return pixel_mse(out, x_clean)


@pytest.mark.points(4)
@pytest.mark.category("training")
@pytest.mark.timeout(90)
@pytest.mark.hint("The held-out reconstruction error of the trained MLP autoencoder is too "
                  "high. Check the training loop (zero_grad, backward, step every batch), that "
                  "the loss compares the reconstruction with the input, and the ReLUs.")
def test_mlp_autoencoder_reconstructs_held_out_digits(submission, seed, heldout_seed):
    x_train, _, x_test = digits(heldout_seed)
    model = submission.train_autoencoder(x_train, kind="mlp", seed=seed % 10_000)
    err = reconstruction_error(model, x_test, x_test, "MLP autoencoder reconstruction")
    checks.expect(err < MLP_MSE_BAR, "threshold", f"per-pixel test MSE {err:.4f} >= {MLP_MSE_BAR}")


@pytest.mark.points(3)
@pytest.mark.category("training")
@pytest.mark.timeout(90)
@pytest.mark.hint("The held-out reconstruction error of the convolutional autoencoder trained "
                  "with loss='mse' (20 epochs) is too high. Check the layer list against the "
                  "docstring (strides, padding, ReLUs), the 'mse' branch of the training loop "
                  "(mse_loss of forward(input) against x) and the loop itself.")
def test_conv_autoencoder_reconstructs_held_out_digits(submission, seed, heldout_seed):
    x_train, _, x_test = digits(heldout_seed)
    model = submission.train_autoencoder(x_train, kind="conv", loss="mse", seed=seed % 10_000,
                                         epochs=20)
    err = reconstruction_error(model, x_test, x_test, "conv autoencoder reconstruction")
    checks.expect(err < CONV_MSE_BAR, "threshold",
                  f"per-pixel test MSE {err:.4f} >= {CONV_MSE_BAR}")


@pytest.mark.points(3)
@pytest.mark.category("training")
@pytest.mark.timeout(90)
@pytest.mark.hint("A denoising autoencoder takes the corrupted image as input and is trained to "
                  "output the clean one: corrupt each batch with fresh noise, and compare the "
                  "output with the clean batch.")
def test_denoising_autoencoder_removes_noise(submission, seed, heldout_seed, rng):
    x_train, _, x_test = digits(heldout_seed)
    model = submission.train_autoencoder(x_train, kind="mlp", seed=seed % 10_000,
                                         noise_std=NOISE_STD)
    noisy = (x_test + NOISE_STD * torch.randn(x_test.shape, generator=rng)).clamp(0, 1)
    err = reconstruction_error(model, noisy, x_test, "denoised test images")
    checks.expect(err < DENOISE_MSE_BAR, "threshold",
                  f"per-pixel MSE to the clean images {err:.4f} >= {DENOISE_MSE_BAR}")


@pytest.mark.points(4)
@pytest.mark.category("training")
@pytest.mark.timeout(90)
@pytest.mark.hint("The trained VAE's held-out negative ELBO is too high. Check that the loss is "
                  "reconstruction (Bernoulli, summed over pixels) + KL (summed over latent "
                  "dimensions), averaged over the batch, with fresh noise for every batch.")
def test_vae_held_out_negative_elbo(submission, reference, seed, heldout_seed, rng):
    x_train, _, x_test = digits(heldout_seed)
    model = submission.train_vae(x_train, seed=seed % 10_000)
    mu, logvar = model.encode(x_test)  # the ELBO is computed here, from the model's outputs
    checks.assert_shape(mu, (len(x_test), 8), what="encoder mean of the trained VAE")
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=rng)
    recon = reference.bernoulli_nll(model.decode_logits(z), x_test, reduction="none")
    neg_elbo = float((recon + reference.kl_divergence(mu, logvar, reduction="none")).mean())
    checks.expect(np.isfinite(neg_elbo) and neg_elbo < NEG_ELBO_BAR, "threshold",
                  f"held-out negative ELBO {neg_elbo:.2f} nats >= {NEG_ELBO_BAR}")


@pytest.mark.points(4)
@pytest.mark.category("training")
@pytest.mark.timeout(90)
@pytest.mark.hint("Samples from the prior should look like digits of many kinds. If they are "
                  "blurry blobs, check the KL term of the loss (it pulls the codes towards "
                  "N(0, I), where sample draws from) and that sample decodes through the sigmoid.")
def test_vae_prior_samples_look_like_digits(submission, seed):
    from sklearn.linear_model import LogisticRegression

    x_train, y_train, _ = digits(seed)
    model = submission.train_vae(x_train, seed=seed % 10_000)
    samples = model.sample(N_SAMPLES, seed=seed % 10_000)
    checks.assert_shape(samples, (N_SAMPLES, 1, 8, 8), what="prior samples")
    in_unit_range(samples, "prior samples")
    # the judge: a digit classifier trained here, on real digits only
    judge = LogisticRegression(max_iter=2000).fit(x_train.flatten(1).numpy(), y_train.numpy())
    p = judge.predict_proba(samples.flatten(1).double().numpy())
    confidence = float(p.max(1).mean())
    classes = int((np.bincount(p.argmax(1), minlength=10) >= MIN_PER_CLASS).sum())
    checks.expect(confidence > MAX_PROB_BAR, "threshold",
                  f"mean classifier confidence on samples {confidence:.3f} <= {MAX_PROB_BAR}")
    checks.expect(classes >= MIN_CLASSES, "threshold",
                  f"samples cover {classes} digit classes, fewer than {MIN_CLASSES}")


@pytest.mark.points(2)
@pytest.mark.category("training")
@pytest.mark.timeout(90)
@pytest.mark.hint("The ends of an interpolation should reconstruct the two input images: "
                  "interpolate between the encoder *means* with t running from exactly 0 to "
                  "exactly 1.")
def test_vae_interpolation_endpoints_match_inputs(submission, seed, heldout_seed):
    x_train, _, x_test = digits(heldout_seed)
    model = submission.train_vae(x_train, seed=seed % 10_000)
    ends, pairs = [], []
    for i in range(10):
        path = model.interpolate(x_test[i], x_test[i + 10], 5)
        checks.assert_shape(path, (5, 1, 8, 8), what="interpolation with 5 steps")
        ends.append(path[[0, -1]])
        pairs.append(x_test[[i, i + 10]])
    err = pixel_mse(torch.cat(ends), torch.cat(pairs))
    checks.expect(err < INTERP_MSE_BAR, "threshold",
                  f"per-pixel MSE of the endpoints to the inputs {err:.4f} >= {INTERP_MSE_BAR}")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("Training must be reproducible: seed torch with `seed` before building the "
                  "model and draw the batch order and noise from a generator seeded with it.")
def test_training_is_reproducible(submission, seed):
    x_train, _, _ = digits(seed)
    x = x_train[:300]
    s = seed % 10_000
    for train, kwargs in ((submission.train_vae, {}),
                          (submission.train_autoencoder, {"noise_std": NOISE_STD})):
        states = [train(x, seed=k, epochs=2, **kwargs).state_dict() for k in (s, s, s + 1)]
        checks.assert_close(states[1], states[0], atol=0.0, rtol=0.0, failure_class="invariant",
                            what="parameters trained twice with the same seed")
        checks.expect(any(not torch.equal(states[0][k], states[2][k]) for k in states[0]),
                      "invariant", "two different seeds gave identical models")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", ["flat-images", "unknown-kind", "unknown-loss", "negative-noise"])
@pytest.mark.hint("train_autoencoder raises ValueError, before training, for images that are "
                  "not (N, 1, 8, 8), an unknown kind or loss, or a negative noise_std.")
def test_train_autoencoder_rejects_bad_arguments(submission, rng, case):
    x = torch.rand(20, 1, 8, 8, generator=rng)
    kwargs = {"flat-images": {}, "unknown-kind": {"kind": "rnn"}, "unknown-loss": {"loss": "l1"},
              "negative-noise": {"noise_std": -0.1}}[case]
    if case == "flat-images":
        x = x.flatten(1)
    checks.assert_raises(ValueError, submission.train_autoencoder, x, epochs=1, **kwargs)
