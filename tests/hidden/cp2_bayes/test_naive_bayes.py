"""Hidden tests: the three naive Bayes classifiers against scikit-learn, edge cases, bad input.

scikit-learn runs here, in the trusted process, on the same fresh random data the student's
classes get; fitted tables and log posteriors must agree to 1e-8 and predictions exactly.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB

from autograder.grading import checks

TOL = {"atol": 1e-8, "rtol": 1e-10}
LABEL_SETS = [(0, 1), (3, 7, 11), (0, 1, 2, 3, 4)]  # labels need not be 0..C-1


def count_data(np_rng, n, V, labels, lam=0.6):
    """(X (n, V) float64 counts, y (n,) int64) with class-dependent word rates; every class
    occurs, one row is all zeros and word 0 never occurs in the first class."""
    y = np.array(labels * (n // len(labels) + 1))[:n]
    y = np_rng.permutation(y).astype(np.int64)
    rates = lam * np_rng.gamma(1.0, 1.0, size=(len(labels), V))  # (C, V)
    rates[0, 0] = 0.0
    X = np_rng.poisson(rates[np.searchsorted(labels, y)]).astype(np.float64)
    X[np_rng.integers(n)] = 0.0
    return X, y


def fresh_rows(np_rng, n, V, lam=0.6):
    return np_rng.poisson(lam, size=(n, V)).astype(np.float64)


def compare_fit(model, sk, names):
    for name in names:
        checks.assert_close(getattr(model, name), getattr(sk, name), **TOL, what=name)


def compare_predictions(model, sk, X):
    checks.assert_close(model.predict_log_proba(X), sk.predict_log_proba(X), **TOL,
                        what="predict_log_proba")
    checks.assert_close(model.predict_proba(X), sk.predict_proba(X), **TOL, what="predict_proba")
    got = model.predict(X)
    checks.assert_shape(got, (X.shape[0],), what="predict")
    checks.expect(np.array_equal(np.asarray(got), sk.predict(X)), "value",
                  "predict differs from the expected labels")


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.parametrize("alpha", [1.0, 0.25])
@pytest.mark.hint("class_log_prior_ is log(N_c / n); feature_log_prob_ is log(N_cw + alpha) "
                  "minus log of the row sum of (N_cw + alpha) over all V words. Rows follow "
                  "classes_, the sorted distinct labels.")
def test_multinomial_fit_matches_sklearn(submission, np_rng, alpha):
    for labels in LABEL_SETS:
        X, y = count_data(np_rng, 80, 30, labels)
        model = submission.MultinomialNaiveBayes(alpha=alpha).fit(X, y)
        sk = MultinomialNB(alpha=alpha).fit(X, y)
        compare_fit(model, sk, ["classes_", "class_count_", "feature_count_",
                                "class_log_prior_", "feature_log_prob_"])


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("joint_log_likelihood is X @ feature_log_prob_.T + class_log_prior_; "
                  "predict_log_proba subtracts its log-sum-exp over the classes; predict returns "
                  "labels from classes_, not column indices.")
def test_multinomial_predictions_match_sklearn(submission, np_rng):
    for labels in LABEL_SETS:
        X, y = count_data(np_rng, 80, 30, labels)
        model = submission.MultinomialNaiveBayes(alpha=0.5).fit(X, y)
        sk = MultinomialNB(alpha=0.5).fit(X, y)
        compare_predictions(model, sk, fresh_rows(np_rng, 40, 30))


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Bernoulli: feature_count_ counts the documents of each class in which a word "
                  "is present (x > binarize); log p = log(N_cw + alpha) - log(N_c + 2 alpha).")
def test_bernoulli_fit_matches_sklearn(submission, np_rng):
    for labels in LABEL_SETS:
        X, y = count_data(np_rng, 80, 30, labels)
        for alpha, binarize in ((1.0, 0.0), (0.3, 1.0)):
            model = submission.BernoulliNaiveBayes(alpha=alpha, binarize=binarize).fit(X, y)
            sk = BernoulliNB(alpha=alpha, binarize=binarize).fit(X, y)
            compare_fit(model, sk, ["classes_", "class_count_", "feature_count_",
                                    "class_log_prior_", "feature_log_prob_"])


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("Bernoulli likelihoods count absent words too: sum_w b_w log p_cw + "
                  "(1 - b_w) log(1 - p_cw), with b the binarised new document.")
def test_bernoulli_predictions_match_sklearn(submission, np_rng):
    for labels in LABEL_SETS:
        X, y = count_data(np_rng, 80, 30, labels)
        for binarize in (0.0, 1.0):
            model = submission.BernoulliNaiveBayes(alpha=0.7, binarize=binarize).fit(X, y)
            sk = BernoulliNB(alpha=0.7, binarize=binarize).fit(X, y)
            compare_predictions(model, sk, fresh_rows(np_rng, 40, 30))


def digits_split(np_rng, n_train=600):
    d = load_digits()
    idx = np_rng.permutation(len(d.target))
    X, y = d.data.astype(np.float64), d.target.astype(np.int64)
    return (X[idx[:n_train]], y[idx[:n_train]]), X[idx[n_train:n_train + 300]]


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("theta_ and var_ are per-class means and biased variances (divide by N_c); "
                  "epsilon_ = var_smoothing times the largest per-feature variance of the whole "
                  "training set, added to every var_ entry.")
def test_gaussian_fit_matches_sklearn(submission, np_rng):
    (X, y), _ = digits_split(np_rng)
    for vs in (1e-9, 1e-2):
        model = submission.GaussianNaiveBayes(var_smoothing=vs).fit(X, y)
        sk = GaussianNB(var_smoothing=vs).fit(X, y)
        compare_fit(model, sk, ["classes_", "class_count_", "class_prior_", "theta_", "var_"])
        checks.assert_close(np.asarray(float(model.epsilon_)), np.asarray(float(sk.epsilon_)),
                            **TOL, what="epsilon_")
    Xr = np_rng.normal(size=(90, 7)) * np_rng.uniform(0.5, 3, size=7)
    yr = np_rng.choice([2, 4, 9], size=90).astype(np.int64)
    compare_fit(submission.GaussianNaiveBayes().fit(Xr, yr), GaussianNB().fit(Xr, yr),
                ["theta_", "var_"])


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("log N(x; mu, var) = -0.5 * (log(2 pi var) + (x - mu)^2 / var), summed over "
                  "the features, plus the log prior; normalise with log-sum-exp.")
def test_gaussian_predictions_match_sklearn(submission, np_rng):
    (X, y), X_test = digits_split(np_rng)
    model = submission.GaussianNaiveBayes(var_smoothing=1e-2).fit(X, y)
    sk = GaussianNB(var_smoothing=1e-2).fit(X, y)
    compare_predictions(model, sk, X_test)


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("With smoothing, a word never seen in a class still has a finite, negative "
                  "log-probability, and a document without words gets the prior as posterior.")
def test_smoothing_edge_cases(submission, np_rng):
    X, y = count_data(np_rng, 60, 20, (0, 1, 2))
    X[y == 1, 5] = 0.0  # word 5 unseen in class 1
    model = submission.MultinomialNaiveBayes(alpha=1.0).fit(X, y)
    flp = np.asarray(model.feature_log_prob_)
    checks.expect(np.isfinite(flp).all() and (flp < 0).all(), "value",
                  "feature_log_prob_ has non-finite or non-negative entries")
    zero = np.zeros((3, 20))
    checks.assert_close(model.predict_log_proba(zero),
                        np.tile(model.class_log_prior_, (3, 1)), **TOL,
                        what="log posterior of an all-zero row", failure_class="invariant")
    rows = fresh_rows(np_rng, 10, 20)
    rows[:, 5] = 3.0  # the unseen word in every document
    for cls in (submission.MultinomialNaiveBayes, submission.BernoulliNaiveBayes):
        proba = np.asarray(cls(alpha=1.0).fit(X, y).predict_proba(rows))
        checks.expect(np.isfinite(proba).all(), "invariant", "non-finite probabilities")
        checks.assert_close(proba.sum(axis=1), np.ones(10), atol=1e-12,
                            what="row sums of predict_proba", failure_class="invariant")


@pytest.mark.points(3)
@pytest.mark.category("invariant")
@pytest.mark.hint("Long documents have joint log-likelihoods far below zero, where exp() "
                  "underflows to 0: normalise in log space, subtracting the maximum before "
                  "exponentiating (log-sum-exp).")
def test_long_documents(submission, np_rng):
    X, y = count_data(np_rng, 60, 50, (0, 1, 2))
    model = submission.MultinomialNaiveBayes(alpha=1.0).fit(X, y)
    sk = MultinomialNB(alpha=1.0).fit(X, y)
    long_docs = np_rng.multinomial(20_000, np.full(50, 1 / 50), size=6).astype(np.float64)
    long_docs[0] = 0.0
    long_docs[0, 3] = 15_000.0  # one word repeated: a huge gap between the classes
    logp = np.asarray(model.predict_log_proba(long_docs))
    checks.expect(np.isfinite(logp).all(), "invariant",
                  "predict_log_proba is not finite for documents of 20,000 tokens")
    checks.assert_close(logp, sk.predict_log_proba(long_docs), atol=1e-8, rtol=1e-10,
                        what="log posteriors of long documents")
    proba = np.asarray(model.predict_proba(long_docs))
    checks.assert_close(proba.sum(axis=1), np.ones(6), atol=1e-12,
                        what="row sums of predict_proba", failure_class="invariant")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("log_sum_exp(a, axis) = m + log(sum(exp(a - m))) with m the maximum along the "
                  "axis; the axis disappears from the shape.")
def test_log_sum_exp(submission, reference, np_rng):
    for shape, axis in (((4, 6), 1), ((4, 6), 0), ((3, 2, 5), -1), ((7,), 0)):
        a = np_rng.normal(size=shape) * 1000
        checks.assert_close(submission.log_sum_exp(a, axis=axis),
                            reference.log_sum_exp(a, axis=axis), atol=1e-9, rtol=1e-12,
                            what=f"log_sum_exp over axis {axis} of {shape}")
    a = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    checks.assert_close(submission.log_sum_exp(a, axis=1), np.array([-np.inf, 0.0]),
                        what="log_sum_exp of -inf entries")


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("Score each word by its log-probability in the class minus its mean "
                  "log-probability in the other classes; sort decreasing, ties by index.")
def test_informative_features(submission, reference, np_rng):
    for labels in ((0, 1), (0, 1, 2, 3)):
        X, y = count_data(np_rng, 120, 40, labels, lam=1.5)
        for k in (1, 5, 40):
            got = submission.MultinomialNaiveBayes(alpha=1.0).fit(X, y).informative_features(k)
            expected = reference.MultinomialNaiveBayes(alpha=1.0).fit(X, y).informative_features(k)
            checks.assert_close(got, expected, atol=0, rtol=0,
                                what=f"informative_features({k}) for {len(labels)} classes")


def fitted(submission, kind):
    X, y = count_data(np.random.default_rng(0), 30, 12, (0, 1))
    cls = {"multinomial": submission.MultinomialNaiveBayes,
           "bernoulli": submission.BernoulliNaiveBayes,
           "gaussian": submission.GaussianNaiveBayes}[kind]
    return cls().fit(X, y), X, y


BAD_CALLS = {
    "predict-before-fit": lambda s: s.MultinomialNaiveBayes().predict(np.ones((2, 5))),
    "proba-before-fit-gaussian": lambda s: s.GaussianNaiveBayes().predict_proba(np.ones((2, 5))),
    "too-few-features": lambda s: fitted(s, "multinomial")[0].predict(np.ones((2, 11))),
    "too-many-features-bernoulli": lambda s: fitted(s, "bernoulli")[0].predict_log_proba(
        np.ones((2, 13))),
    "too-many-features-gaussian": lambda s: fitted(s, "gaussian")[0].predict(np.ones((2, 13))),
    "x-y-length-mismatch": lambda s: s.MultinomialNaiveBayes().fit(np.ones((4, 3)), [0, 1, 0]),
    "no-documents": lambda s: s.BernoulliNaiveBayes().fit(np.zeros((0, 3)), np.zeros(0, int)),
    "negative-counts": lambda s: s.MultinomialNaiveBayes().fit(-np.ones((2, 3)), [0, 1]),
    "alpha-zero": lambda s: s.MultinomialNaiveBayes(alpha=0.0),
    "alpha-negative-bernoulli": lambda s: s.BernoulliNaiveBayes(alpha=-1.0),
    "negative-var-smoothing": lambda s: s.GaussianNaiveBayes(var_smoothing=-1e-9),
    "score-unseen-label": lambda s: fitted(s, "multinomial")[0].score(
        fitted(s, "multinomial")[1][:3], [0, 1, 2]),
}


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", list(BAD_CALLS))
@pytest.mark.hint("Raise ValueError (not NaN, not an IndexError) when: predicting before fit, "
                  "X has a different number of features than in fit, X and y differ in length, "
                  "X has no rows, counts are negative, alpha <= 0, var_smoothing < 0, or score "
                  "gets a label that never occurred in training.")
def test_naive_bayes_rejects_bad_input(submission, case):
    checks.assert_raises(ValueError, BAD_CALLS[case], submission)
