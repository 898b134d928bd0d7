"""Hidden tests: evaluate, train_epoch and train_classifier on the digits and the shapes.

Training runs in the worker; accuracies are computed here, from the logits the trained model
returns on held-out images whose labels the worker never sees.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from autograder.grading import checks
from autograder.support.digits import load_digits_split
from autograder.support.shapes import make_shapes

DIGITS_PASS, DIGITS_HALF = 0.97, 0.93  # reference over 40 splits: min 0.981, mean 0.992
SHAPES_PASS, SHAPES_HALF = 0.99, 0.95  # reference over 20 data sets: min 0.995, mean 0.998
N_SHAPES_TRAIN, N_SHAPES_TEST = 3000, 1000
SHAPES_SETTINGS = {"epochs": 8, "batch_size": 64, "lr": 5e-3, "augment": False}
INIT_LOSS_TOL = 0.15  # |loss - ln 10| of a fresh CNN; reference: at most 0.02 over 200 seeds
OVERFIT_LOSS = 0.1  # after 40 Adam epochs on 64 digits; reference: at most 0.035 over 20 seeds
TOL = {"atol": 1e-4, "rtol": 1e-4}


def seeded(seed, build, *args, **kwargs):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(*args, **kwargs)


def digits(seed):
    return load_digits_split(seed=seed % 100_000, scaling="standard")


def student_cnn(submission, ref_model, *config):
    model = submission.CNN(*config)
    got, expected = model.state_dict(), ref_model.state_dict()
    checks.expect(sorted(got) == sorted(expected), "shape",
                  f"CNN state_dict has keys {sorted(got)}, expected {sorted(expected)}")
    model.load_state_dict(expected)
    return model


def accuracy(logits, y):
    return float((logits.argmax(dim=1) == y).double().mean())


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.hint("A freshly initialised 10-class CNN should be unsure of every class, so its "
                  "mean cross-entropy is close to ln(10) = 2.30. A loss far from it means a "
                  "wrong initialisation scale or a softmax/ReLU on the logits.")
def test_loss_at_init_is_near_ln10(submission, seed):
    split = digits(seed)
    model = submission.CNN(10, 8)
    logits = model(split.x_train[:512])
    checks.assert_shape(logits, (len(split.x_train[:512]), 10), what="logits")
    loss = float(F.cross_entropy(logits, split.y_train[:512]))
    checks.expect(abs(loss - math.log(10)) < INIT_LOSS_TOL, "threshold",
                  f"loss at initialisation {loss:.3f}, expected about ln(10) = 2.303")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("evaluate returns (accuracy, mean cross-entropy) as two Python floats, "
                  "computed on all N examples whatever the batch size.")
def test_evaluate_values(submission, reference, seed, rng):
    ref = seeded(seed, reference.CNN, 10, 8)
    model = student_cnn(submission, ref, 10, 8)
    split = digits(seed)
    x, y = split.x_val[:150], split.y_val[:150]
    for batch_size in (512, 64):
        got = submission.evaluate(model, x, y, batch_size=batch_size)
        expected = reference.evaluate(ref, x, y)
        checks.expect(isinstance(got, (tuple, list)) and len(got) == 2
                      and all(isinstance(v, float) for v in got), "dtype",
                      "evaluate must return a pair of Python floats (accuracy, loss)")
        checks.assert_close(torch.tensor(got, dtype=torch.float64),
                            torch.tensor(expected, dtype=torch.float64), **TOL,
                            what=f"(accuracy, loss) with batch_size={batch_size}")


@pytest.mark.points(2)
@pytest.mark.category("training")
@pytest.mark.parametrize("shuffled", [True, False], ids=["seeded", "in-order"])
@pytest.mark.hint("train_epoch: batches of perm[k*batch_size:(k+1)*batch_size] with perm from "
                  "torch.randperm(N, generator=torch.Generator().manual_seed(seed)) (arange when "
                  "seed is None); zero_grad, forward, mean cross-entropy, backward, step per "
                  "batch; return the per-example mean of the batch losses.")
def test_train_epoch_matches_reference(submission, reference, seed, shuffled):
    ref = seeded(seed, reference.CNN, 10, 8)
    model = student_cnn(submission, ref, 10, 8)
    split = digits(seed)
    x, y = split.x_train[:100], split.y_train[:100]  # 4 batches, the last one of 4
    shuffle = seed % 1000 if shuffled else None
    opt = submission.make_optimizer(model, 0.1, kind="sgd")
    ref_opt = reference.make_optimizer(ref, 0.1, kind="sgd")
    for epoch in range(2):
        loss = submission.train_epoch(model, opt, x, y, batch_size=32, seed=shuffle)
        expected = reference.train_epoch(ref, ref_opt, x, y, batch_size=32, seed=shuffle)
        checks.expect(isinstance(loss, float), "dtype",
                      f"train_epoch returned {type(loss).__name__}, expected a Python float")
        checks.assert_close(torch.tensor(loss), torch.tensor(expected), **TOL,
                            what=f"loss of epoch {epoch + 1}")
    checks.assert_close(model.state_dict(), ref.state_dict(), **TOL,
                        what="parameters after two epochs")


@pytest.mark.points(2)
@pytest.mark.category("training")
@pytest.mark.hint("The reference-sized CNN should memorise a batch of 64 digits in 40 Adam "
                  "epochs. If it cannot, the loss or the gradients are wrong (check that the "
                  "training loss falls, zero_grad, the ReLUs, and the flatten order).")
def test_overfits_one_batch(submission, seed):
    split = digits(seed)
    x, y = split.x_train[:64], split.y_train[:64]
    model = submission.CNN(10, 8)
    opt = submission.make_optimizer(model, 3e-3)
    for _ in range(40):
        loss = submission.train_epoch(model, opt, x, y, batch_size=64)
    checks.expect(loss < OVERFIT_LOSS, "threshold", f"training loss {loss:.3f} after 40 epochs")
    acc = accuracy(model(x), y)
    checks.expect(acc == 1.0, "threshold", f"accuracy {acc:.3f} on the memorised batch")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", ["batch_size=0", "labels-of-another-length"])
@pytest.mark.hint("train_epoch must raise ValueError for batch_size < 1 or when x and y hold a "
                  "different number of examples.")
def test_train_epoch_rejects_bad_input(submission, reference, seed, case):
    split = digits(seed)
    x, y = split.x_train[:20], split.y_train[:20]
    model = submission.CNN(10, 8)
    opt = submission.make_optimizer(model, 0.1)
    if case == "batch_size=0":
        checks.assert_raises(ValueError, submission.train_epoch, model, opt, x, y, batch_size=0)
    else:
        checks.assert_raises(ValueError, submission.train_epoch, model, opt, x, y[:-1])


@pytest.mark.points(4)
@pytest.mark.category("training")
@pytest.mark.timeout(120)
@pytest.mark.hint("Held-out digits accuracy is below the bar. Follow train_classifier's "
                  "docstring (Adam, cosine schedule, augmentation, 30 epochs), check that the "
                  "training loss falls and the validation accuracy rises (train.py plots both).")
def test_digits_accuracy(submission, seed, heldout_seed, credit):
    split = digits(heldout_seed)  # trained on the training and validation parts, 1,528 images
    x_train = torch.cat([split.x_train, split.x_val])
    y_train = torch.cat([split.y_train, split.y_val])
    model = submission.train_classifier(x_train, y_train, num_classes=10, seed=seed % 10_000)
    logits = model(split.x_test)  # the worker never sees y_test
    checks.assert_shape(logits, (len(split.y_test), 10), what="logits of the trained model")
    acc = accuracy(logits, split.y_test)
    if acc >= DIGITS_PASS:
        return
    checks.expect(acc >= DIGITS_HALF, "threshold",
                  f"held-out digits accuracy {acc:.3f} < {DIGITS_HALF}")
    credit(0.5, f"held-out digits accuracy {acc:.3f} < {DIGITS_PASS}: half credit")


@pytest.mark.points(3)
@pytest.mark.category("training")
@pytest.mark.timeout(120)
@pytest.mark.hint("Held-out shapes accuracy is below the bar. The test calls train_classifier "
                  "with epochs=8, batch_size=64, lr=5e-3, augment=False: honour them, and check "
                  "the loss curve.")
def test_shapes_accuracy(submission, seed, heldout_seed, credit):
    x, y = make_shapes(N_SHAPES_TRAIN, seed=seed % 100_000)
    x_test, y_test = make_shapes(N_SHAPES_TEST, seed=heldout_seed % 2**31)
    model = submission.train_classifier(x, y, num_classes=4, seed=seed % 10_000,
                                        **SHAPES_SETTINGS)
    logits = model(x_test)
    checks.assert_shape(logits, (N_SHAPES_TEST, 4), what="logits of the trained model")
    acc = accuracy(logits, y_test)
    if acc >= SHAPES_PASS:
        return
    checks.expect(acc >= SHAPES_HALF, "threshold",
                  f"held-out shapes accuracy {acc:.3f} < {SHAPES_HALF}")
    credit(0.5, f"held-out shapes accuracy {acc:.3f} < {SHAPES_PASS}: half credit")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("train_classifier must be reproducible: seed torch with the `seed` argument "
                  "first, so one seed gives one model and another seed another model.")
def test_train_classifier_reproducible(submission, seed):
    split = digits(seed)
    x, y = split.x_train[:128], split.y_train[:128]
    s = seed % 10_000
    models = [submission.train_classifier(x, y, seed=k, epochs=1) for k in (s, s, s + 1)]
    first, again, other = (m.state_dict() for m in models)
    checks.assert_close(again, first, atol=0.0, rtol=0.0, failure_class="invariant",
                        what="parameters trained twice with the same seed")
    checks.expect(any(not torch.equal(first[k], other[k]) for k in first), "invariant",
                  "two different seeds gave identical models")
