"""Self-check for Checkpoint 2: one or two small tests per task, on fixed inputs.

Run them with ``llmsoc check cp2_bayes`` (add ``--debug`` to run your code in-process, so
breakpoints work) or ``pytest tests/public/cp2_bayes``. Expected values come from snapshots of
the reference solution; the graded hidden tests check much more (scikit-learn's results on fresh
random data, long documents, gradients, bad input, accuracy on held-out text) on inputs you
cannot see.
"""

import numpy as np
import pytest
import torch

from autograder.grading import checks

TEXTS = ["A great, GREAT movie!", "the plot is dull... dull and slow", "",
         "Great acting; slow plot", "Not great, not dull: it's fine", "dull dull DULL"]


def counts():
    """A fixed (8, 6) count matrix with labels in {2, 5, 9}; word 1 never occurs in class 5."""
    X = (np.arange(48).reshape(8, 6) * 7 % 5).astype(np.float64)
    y = np.array([2, 5, 9, 2, 5, 9, 2, 2])
    X[y == 5, 1] = 0.0
    return X, y


def same(got, expected, what):
    checks.expect(got == expected, "value", f"{what}: got {got!r}, expected {expected!r}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Lower-case, then the maximal runs of letters; drop stop words if given.")
def test_tokenize_basic(submission, snapshot):
    expected = snapshot("tokenize", lambda ref: [ref.tokenize(t) for t in TEXTS] + [
        ref.tokenize(TEXTS[1], stop_words=["the", "is", "and"])])
    got = [submission.tokenize(t) for t in TEXTS]
    got.append(submission.tokenize(TEXTS[1], stop_words=["the", "is", "and"]))
    same(got, expected, "tokenize")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("'<unk>' first, then tokens with count >= min_freq by decreasing count, ties "
                  "alphabetically; unknown words count in column 0 of bag_of_words.")
def test_vocabulary_and_bag_of_words(submission, snapshot):
    def compute(ref):
        tokens = [ref.tokenize(t) for t in TEXTS]
        vocab = ref.Vocabulary(tokens, min_freq=2)
        new = [ref.tokenize("a dull, unseen film"), []]
        return {"itos": vocab.itos, "counts": ref.bag_of_words(tokens + new, vocab),
                "binary": ref.bag_of_words(tokens + new, vocab, binary=True)}

    expected = snapshot("vocabulary", compute)
    tokens = [submission.tokenize(t) for t in TEXTS]
    vocab = submission.Vocabulary(tokens, min_freq=2)
    same(vocab.itos, expected["itos"], "Vocabulary.itos")
    new = [submission.tokenize("a dull, unseen film"), []]
    checks.assert_close(submission.bag_of_words(tokens + new, vocab), expected["counts"],
                        what="bag_of_words")
    checks.assert_close(submission.bag_of_words(tokens + new, vocab, binary=True),
                        expected["binary"], what="bag_of_words(binary=True)")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Shift by the maximum along the axis before exponentiating.")
def test_log_sum_exp_basic(submission, snapshot):
    a = np.array([[1000.0, 1001.0, -5.0], [-2000.0, -2000.5, -1999.0]])
    expected = snapshot("log_sum_exp", lambda ref: [ref.log_sum_exp(a, axis=1),
                                                    ref.log_sum_exp(a, axis=0)])
    checks.assert_close(submission.log_sum_exp(a, axis=1), expected[0], atol=1e-9)
    checks.assert_close(submission.log_sum_exp(a, axis=0), expected[1], atol=1e-9)


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("feature_log_prob_ = log(N_cw + alpha) - log(sum_w (N_cw + alpha)); "
                  "class_log_prior_ = log(N_c / n); rows in the order of classes_.")
def test_multinomial_basic(submission, snapshot):
    X, y = counts()
    X_new = X[::-1] + 1.0

    def compute(ref):
        m = ref.MultinomialNaiveBayes(alpha=0.5).fit(X, y)
        return {"class_log_prior_": m.class_log_prior_, "feature_log_prob_": m.feature_log_prob_,
                "predict_log_proba": m.predict_log_proba(X_new), "predict": m.predict(X_new)}

    expected = snapshot("multinomial", compute)
    m = submission.MultinomialNaiveBayes(alpha=0.5).fit(X, y)
    for name in ("class_log_prior_", "feature_log_prob_"):
        checks.assert_close(getattr(m, name), expected[name], atol=1e-8, what=name)
    checks.assert_close(m.predict_log_proba(X_new), expected["predict_log_proba"], atol=1e-8,
                        what="predict_log_proba")
    checks.assert_close(m.predict(X_new), expected["predict"], what="predict")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Absent words count: add log(1 - p) for every word the document lacks.")
def test_bernoulli_basic(submission, snapshot):
    X, y = counts()
    X_new = X[::-1].copy()  # has zeros: absent words are evidence too
    expected = snapshot("bernoulli", lambda ref: ref.BernoulliNaiveBayes(alpha=1.0).fit(
        X, y).predict_log_proba(X_new))
    got = submission.BernoulliNaiveBayes(alpha=1.0).fit(X, y).predict_log_proba(X_new)
    checks.assert_close(got, expected, atol=1e-8)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Per-class means and biased variances, plus epsilon = var_smoothing times the "
                  "largest feature variance.")
def test_gaussian_basic(submission, snapshot):
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = d.data[:300].astype(np.float64), d.target[:300].astype(np.int64)

    def compute(ref):
        m = ref.GaussianNaiveBayes(var_smoothing=1e-2).fit(X, y)
        return {"var_": m.var_, "predict_log_proba": m.predict_log_proba(d.data[300:320])}

    expected = snapshot("gaussian", compute)
    m = submission.GaussianNaiveBayes(var_smoothing=1e-2).fit(X, y)
    checks.assert_close(m.var_, expected["var_"], atol=1e-8, what="var_")
    checks.assert_close(m.predict_log_proba(d.data[300:320].astype(np.float64)),
                        expected["predict_log_proba"], atol=1e-8, what="predict_log_proba")


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("Raise ValueError for alpha <= 0, predicting before fit, and a wrong number "
                  "of features.")
def test_naive_bayes_bad_input(submission):
    checks.assert_raises(ValueError, submission.MultinomialNaiveBayes, alpha=0.0)
    checks.assert_raises(ValueError, submission.MultinomialNaiveBayes().predict, np.ones((1, 6)))
    X, y = counts()
    m = submission.MultinomialNaiveBayes().fit(X, y)
    checks.assert_raises(ValueError, m.predict, np.ones((1, 5)))


def logreg_problem():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(3, 6, generator=g, dtype=torch.float64)
    b = torch.randn(3, generator=g, dtype=torch.float64)
    X, y = counts()
    return W, b, torch.tensor(X), torch.tensor([0, 1, 2, 0, 1, 2, 0, 0])


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.hint("loss = mean(logsumexp(z) - z[y]) + l2/2 ||W||^2; grad_W = (P - Y)^T X / n "
                  "+ l2 W, grad_b = mean(P - Y).")
def test_logreg_loss_and_gradient(submission, snapshot):
    W, b, X, y = logreg_problem()
    expected = snapshot("logreg", lambda ref: {"loss": ref.logreg_loss(W, b, X, y, l2=0.1),
                                               "grad": ref.logreg_gradient(W, b, X, y, l2=0.1)})
    checks.assert_close(submission.logreg_loss(W, b, X, y, l2=0.1), expected["loss"],
                        atol=1e-10, what="logreg_loss")
    checks.assert_close(list(submission.logreg_gradient(W, b, X, y, l2=0.1)),
                        list(expected["grad"]), atol=1e-10, what="logreg_gradient",
                        failure_class="gradient")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Confusion matrix: rows are true classes, columns predictions; macro-F1 "
                  "averages 2TP / (2TP + FP + FN) over all classes.")
def test_metrics_basic(submission, snapshot):
    y_true, y_pred = [0, 1, 2, 2, 1, 0, 2], [0, 2, 2, 1, 1, 0, 0]
    expected = snapshot("metrics", lambda ref: {
        "accuracy": ref.accuracy(y_true, y_pred), "f1": ref.macro_f1(y_true, y_pred, 4),
        "confusion": ref.confusion_matrix(y_true, y_pred, 4)})
    checks.assert_close(submission.accuracy(y_true, y_pred), expected["accuracy"], what="accuracy")
    checks.assert_close(submission.macro_f1(y_true, y_pred, 4), expected["f1"], what="macro_f1")
    checks.assert_close(submission.confusion_matrix(y_true, y_pred, 4), expected["confusion"],
                        what="confusion_matrix")


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.timeout(60)
@pytest.mark.hint("Tokenize, build the vocabulary from the training texts, vectorise, fit "
                  "MultinomialNaiveBayes; check each step on a few posts by hand.")
def test_newsgroups_pipeline(submission):
    from autograder.support.text import load_mini_newsgroups, stratified_split

    texts, labels = load_mini_newsgroups()
    train, test = stratified_split(labels, 0.3, seed=0)
    clf = submission.NaiveBayesTextClassifier().fit([texts[i] for i in train], labels[train])
    acc = float((np.asarray(clf.predict([texts[i] for i in test])) == labels[test]).mean())
    checks.expect(acc >= 0.8, "threshold", f"held-out accuracy {acc:.3f} < 0.8")
