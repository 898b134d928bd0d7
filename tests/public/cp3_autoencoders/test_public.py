"""Self-check for Checkpoint 3: one small test per task.

Run them with ``llmsoc check cp3_autoencoders`` (add ``--debug`` to run your code in-process,
so breakpoints work) or ``pytest tests/public/cp3_autoencoders``. Each test draws its inputs
(images, logits, latent statistics, noise, layer sizes, data split) from its seed: a fixed one
in a self-check, where the expected values come from snapshots of the reference solution, and a
secret one in the official grade. The graded hidden tests check much more (other shapes and
dtypes, gradients, invariants, training on held-out digits, generation) on inputs you cannot see.
"""

import pytest
import torch

from autograder.grading import checks
from autograder.support.digits import load_digits_split


def pixels(inputs, batch):
    """(batch, 1, 8, 8) grey images in [0, 1]."""
    return (inputs.wave(batch, 1, 8, 8) * 0.5 + 0.5).clamp(0, 1)


def model_config(inputs):
    """(latent_dim, hidden)."""
    return inputs.randint(2, 8), inputs.randint(16, 40)


def reference_state(ref, cls, config, torch_seed):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed)
        return getattr(ref, cls)(*config).state_dict()


def student_model(submission, snapshot, inputs, cls):
    """``(model, state, config)``: the student's ``cls`` of a seeded configuration, holding the
    reference's initial weights."""
    config, torch_seed = model_config(inputs), inputs.torch_seed()
    state = snapshot(f"{cls}_state", lambda ref: reference_state(ref, cls, config, torch_seed))
    model = getattr(submission, cls)(*config)
    got = model.state_dict()
    checks.expect(sorted(got) == sorted(state), "shape",
                  f"{cls}{config} parameters are named {sorted(got)}, expected {sorted(state)}")
    model.load_state_dict(state)
    return model, state, config


def reference_model(ref, cls, config, state):
    model = getattr(ref, cls)(*config)
    model.load_state_dict(state)
    return model


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Sum over the pixels of each image, then average over the batch ('mean').")
def test_reconstruction_losses_basic(submission, snapshot, inputs):
    batch = inputs.randint(2, 5)
    x, x_hat = pixels(inputs, batch), pixels(inputs, batch)
    logits = inputs.wave(batch, 1, 8, 8, scale=4.0)
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
def test_kl_and_reparameterize_basic(submission, snapshot, inputs):
    batch, d = inputs.randint(3, 6), inputs.randint(2, 5)
    mu = inputs.wave(batch, d, scale=2.0)
    logvar = inputs.wave(batch, d, scale=inputs.uniform(0.5, 1.5))
    eps = inputs.wave(batch, d)
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
def test_mlp_autoencoder_basic(submission, snapshot, inputs):
    model, state, config = student_model(submission, snapshot, inputs, "MLPAutoencoder")
    x = pixels(inputs, inputs.randint(2, 4))

    def outputs(ref):
        with torch.no_grad():
            m = reference_model(ref, "MLPAutoencoder", config, state)
            return {"code": m.encode(x), "recon": m(x)}

    expected = snapshot("mlp_outputs", outputs)
    checks.assert_close(model.encode(x), expected["code"], atol=1e-5, what="code")
    checks.assert_close(model(x), expected["recon"], atol=1e-5, what="reconstruction")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("negative_elbo = bernoulli_nll(logits, x) + KL per image, averaged over the "
                  "batch; iwae_nll = -log mean_k exp(log p(x|z_k) + log p(z_k) - log q(z_k|x)).")
def test_vae_losses_basic(submission, snapshot, inputs):
    model, state, config = student_model(submission, snapshot, inputs, "VAE")
    batch, k = inputs.randint(2, 4), inputs.randint(3, 6)
    x = pixels(inputs, batch)
    eps = inputs.wave(batch, config[0])
    eps_k = inputs.wave(k, batch, config[0])

    def outputs(ref):
        with torch.no_grad():
            m = reference_model(ref, "VAE", config, state)
            return {"neg_elbo": m.negative_elbo(x, eps, reduction="none"),
                    "iwae": m.iwae_nll(x, eps_k, reduction="none")}

    expected = snapshot("vae_losses", outputs)
    checks.assert_close(model.negative_elbo(x, eps, reduction="none"), expected["neg_elbo"],
                        atol=1e-4, what="negative ELBO per image")
    checks.assert_close(model.iwae_nll(x, eps_k, reduction="none"), expected["iwae"],
                        atol=1e-4, what=f"IWAE NLL (K={k}) per image")


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("encode raises ValueError unless x is (B, 1, 8, 8); constructors raise "
                  "ValueError for latent_dim < 1.")
def test_bad_input_basic(submission, inputs):
    vae = submission.VAE(*model_config(inputs))
    checks.assert_raises(ValueError, vae.encode, inputs.wave(inputs.randint(1, 5), 64))
    checks.assert_raises(ValueError, submission.MLPAutoencoder, 0)


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.timeout(90)
@pytest.mark.hint("Check the loss curve with the training script; the loss is reconstruction + "
                  "KL, averaged over the batch.")
def test_train_vae_basic(submission, inputs):
    split = load_digits_split(inputs.randint(0, 2**31 - 1), scaling="unit")
    x_train = torch.cat([split.x_train, split.x_val])
    model = submission.train_vae(x_train, seed=inputs.randint(0, 9999))
    neg_elbo = float(model.negative_elbo(split.x_test, torch.zeros(len(split.x_test), 8)))
    checks.expect(neg_elbo < 26.0, "threshold",
                  f"test negative ELBO (at the encoder means) {neg_elbo:.2f} >= 26 nats")
