"""Self-check for Checkpoint 3: one small test per task, on fixed inputs.

Run them with ``llmsoc check cp3_autoencoders`` (add ``--debug`` to run your code in-process,
so breakpoints work) or ``pytest tests/public/cp3_autoencoders``. Expected values come from
snapshots of the reference solution; the graded hidden tests check much more (other shapes and
dtypes, gradients, invariants, training on held-out digits, generation) on inputs you cannot see.
"""

import pytest
import torch

from autograder.grading import checks
from autograder.support.digits import load_digits_split
from autograder.grading.inputs import wave

AE_CONFIG = (5, 32)  # latent_dim, hidden
VAE_CONFIG = (4, 32)


def pixels(batch, phase=0.0):
    """(batch, 1, 8, 8) fixed grey images in [0, 1]."""
    return (wave(batch, 1, 8, 8, phase=phase) * 0.5 + 0.5).clamp(0, 1)


def reference_state(ref, cls, config):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return getattr(ref, cls)(*config).state_dict()


def student_model(submission, snapshot, cls, config):
    """The student's model holding the reference's seed-0 weights."""
    state = snapshot(f"{cls}_state", lambda ref: reference_state(ref, cls, config))
    model = getattr(submission, cls)(*config)
    got = model.state_dict()
    checks.expect(sorted(got) == sorted(state), "shape",
                  f"{cls} parameters are named {sorted(got)}, expected {sorted(state)}")
    model.load_state_dict(state)
    return model, state


def reference_model(ref, cls, config, state):
    model = getattr(ref, cls)(*config)
    model.load_state_dict(state)
    return model


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Sum over the pixels of each image, then average over the batch ('mean').")
def test_reconstruction_losses_basic(submission, snapshot):
    x, x_hat, logits = pixels(3), pixels(3, phase=1.0), wave(3, 1, 8, 8, scale=4.0, phase=2.0)
    expected = snapshot("losses", lambda ref: {
        "mse": ref.mse_loss(x_hat, x), "mse_none": ref.mse_loss(x_hat, x, reduction="none"),
        "bce": ref.bernoulli_nll(logits, x),
        "bce_none": ref.bernoulli_nll(logits, x, reduction="none")})
    checks.assert_close(submission.mse_loss(x_hat, x), expected["mse"], atol=1e-5, what="mse")
    checks.assert_close(submission.mse_loss(x_hat, x, reduction="none"), expected["mse_none"],
                        atol=1e-5, what="mse per image")
    checks.assert_close(submission.bernoulli_nll(logits, x), expected["bce"], atol=1e-4,
                        what="bernoulli_nll")
    checks.assert_close(submission.bernoulli_nll(logits, x, reduction="none"),
                        expected["bce_none"], atol=1e-4, what="bernoulli_nll per image")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("KL = 0.5 * sum(exp(logvar) + mu^2 - 1 - logvar) over the latent dimensions; "
                  "z = mu + exp(logvar / 2) * eps.")
def test_kl_and_reparameterize_basic(submission, snapshot):
    mu, logvar, eps = wave(4, 3, scale=2.0), wave(4, 3, phase=1.0), wave(4, 3, phase=2.0)
    expected = snapshot("kl_reparam", lambda ref: {
        "kl": ref.kl_divergence(mu, logvar, reduction="none"),
        "z": ref.reparameterize(mu, logvar, eps),
        "log_normal": ref.log_normal(eps, mu, logvar)})
    checks.assert_close(submission.kl_divergence(mu, logvar, reduction="none"), expected["kl"],
                        atol=1e-5, what="KL per row")
    checks.assert_close(submission.reparameterize(mu, logvar, eps), expected["z"], atol=1e-5,
                        what="reparameterized z")
    checks.assert_close(submission.log_normal(eps, mu, logvar), expected["log_normal"],
                        atol=1e-5, what="log_normal")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Build the layers exactly as the MLPAutoencoder docstring lists them; forward "
                  "is sigmoid(decoder(encoder(x))).")
def test_mlp_autoencoder_basic(submission, snapshot):
    model, state = student_model(submission, snapshot, "MLPAutoencoder", AE_CONFIG)
    x = pixels(2)

    def outputs(ref):
        with torch.no_grad():
            m = reference_model(ref, "MLPAutoencoder", AE_CONFIG, state)
            return {"code": m.encode(x), "recon": m(x)}

    expected = snapshot("mlp_outputs", outputs)
    checks.assert_close(model.encode(x), expected["code"], atol=1e-5, what="code")
    checks.assert_close(model(x), expected["recon"], atol=1e-5, what="reconstruction")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("negative_elbo = bernoulli_nll(logits, x) + KL per image, averaged over the "
                  "batch; iwae_nll = -log mean_k exp(log p(x|z_k) + log p(z_k) - log q(z_k|x)).")
def test_vae_losses_basic(submission, snapshot):
    model, state = student_model(submission, snapshot, "VAE", VAE_CONFIG)
    x = pixels(3)
    eps = wave(3, VAE_CONFIG[0], phase=0.5)
    eps_k = wave(5, 3, VAE_CONFIG[0], phase=1.5)

    def outputs(ref):
        with torch.no_grad():
            m = reference_model(ref, "VAE", VAE_CONFIG, state)
            return {"neg_elbo": m.negative_elbo(x, eps, reduction="none"),
                    "iwae": m.iwae_nll(x, eps_k, reduction="none")}

    expected = snapshot("vae_losses", outputs)
    checks.assert_close(model.negative_elbo(x, eps, reduction="none"), expected["neg_elbo"],
                        atol=1e-4, what="negative ELBO per image")
    checks.assert_close(model.iwae_nll(x, eps_k, reduction="none"), expected["iwae"],
                        atol=1e-4, what="IWAE NLL (K=5) per image")


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("encode raises ValueError unless x is (B, 1, 8, 8); constructors raise "
                  "ValueError for latent_dim < 1.")
def test_bad_input_basic(submission):
    checks.assert_raises(ValueError, submission.VAE(*VAE_CONFIG).encode, wave(4, 64))
    checks.assert_raises(ValueError, submission.MLPAutoencoder, 0)


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.timeout(90)
@pytest.mark.hint("Check the loss curve with the training script; the loss is reconstruction + "
                  "KL, averaged over the batch.")
def test_train_vae_basic(submission):
    split = load_digits_split(0, scaling="unit")
    x_train = torch.cat([split.x_train, split.x_val])
    model = submission.train_vae(x_train, seed=0)
    neg_elbo = float(model.negative_elbo(split.x_test, torch.zeros(len(split.x_test), 8)))
    checks.expect(neg_elbo < 26.0, "threshold",
                  f"test negative ELBO (at the encoder means) {neg_elbo:.2f} >= 26 nats")
