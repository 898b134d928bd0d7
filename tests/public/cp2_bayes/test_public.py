"""Self-check for Checkpoint 2: one or two small tests per task.

Run them with ``llmsoc check cp2_bayes`` (add ``--debug`` to run your code in-process, so
breakpoints work) or ``pytest tests/public/cp2_bayes``. Each test draws its inputs (texts, count
matrices, labels, weights, settings) from its seed: a fixed one in a self-check, where the
expected values come from snapshots of the reference solution, and a secret one in the official
grade. The graded hidden tests check much more (scikit-learn's results on fresh random data,
long documents, gradients, bad input, accuracy on held-out text) on inputs you cannot see.
"""

import numpy as np
import pytest
import torch

from autograder.grading import checks

WORDS = ["great", "movie", "plot", "dull", "slow", "acting", "fine", "not", "the", "is", "and",
         "a", "it's", "film", "story"]
UNSEEN = ["unseen", "cast", "script", "ending", "scene", "music"]  # never in WORDS' texts
SEPARATORS = [" ", " ", " ", ", ", "... ", "; ", ": ", "! ", "? ", " - ", " (", ") "]


def word(inputs):
    """A word of WORDS in lower, upper or title case."""
    w = inputs.choice(WORDS)
    return inputs.choice([w, w, w.upper(), w.title()])


def reviews(inputs):
    """Six texts from WORDS with mixed case and punctuation, one of them empty (the five others
    hold at least 20 words from WORDS, so some word occurs twice)."""
    out = []
    for _ in range(5):
        words = [word(inputs) for _ in range(inputs.randint(4, 8))]
        text = words[0] + "".join(inputs.choice(SEPARATORS) + w for w in words[1:])
        out.append(text + inputs.choice(["", ".", "!", "...", "?!"]))
    out.insert(inputs.randint(0, 5), "")
    return out


def counts(inputs):
    """A count matrix (n, V) with entries in [0, 5) and labels of three distinct values in
    [0, 10) (each present, not in increasing order); one word never occurs in the second
    class."""
    n, V = inputs.randint(8, 12), inputs.randint(5, 8)
    X = inputs.integers(0, 5, n, V).numpy().astype(np.float64)
    classes = inputs.sample(range(10), 3)
    labels = classes + [inputs.choice(classes) for _ in range(n - 3)]
    y = np.array([labels[i] for i in inputs.permutation(n)], dtype=np.int64)
    X[y == classes[1], inputs.randint(0, V - 1)] = 0.0
    return X, y


def same(got, expected, what):
    checks.expect(got == expected, "value", f"{what}: got {got!r}, expected {expected!r}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Lower-case, then the maximal runs of letters; drop stop words if given.")
def test_tokenize_basic(submission, snapshot, inputs):
    docs = reviews(inputs)
    text = inputs.choice([t for t in docs if t])
    stop = inputs.sample(["the", "is", "and", "a", "not", "it", "s"], 3)
    expected = snapshot("tokenize", lambda ref: [ref.tokenize(t) for t in docs] + [
        ref.tokenize(text, stop_words=stop)])
    got = [submission.tokenize(t) for t in docs]
    got.append(submission.tokenize(text, stop_words=stop))
    same(got, expected, "tokenize")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("'<unk>' first, then tokens with count >= min_freq by decreasing count, ties "
                  "alphabetically; unknown words count in column 0 of bag_of_words.")
def test_vocabulary_and_bag_of_words(submission, snapshot, inputs):
    docs = reviews(inputs)
    words = [word(inputs), *inputs.sample(UNSEEN, 2), word(inputs)]
    new_text = ", ".join(words[i] for i in inputs.permutation(len(words)))

    def compute(ref):
        tokens = [ref.tokenize(t) for t in docs]
        vocab = ref.Vocabulary(tokens, min_freq=2)
        new = [ref.tokenize(new_text), []]
        return {"itos": vocab.itos, "counts": ref.bag_of_words(tokens + new, vocab),
                "binary": ref.bag_of_words(tokens + new, vocab, binary=True)}

    expected = snapshot("vocabulary", compute)
    tokens = [submission.tokenize(t) for t in docs]
    vocab = submission.Vocabulary(tokens, min_freq=2)
    same(vocab.itos, expected["itos"], "Vocabulary.itos")
    new = [submission.tokenize(new_text), []]
    checks.assert_close(submission.bag_of_words(tokens + new, vocab), expected["counts"],
                        what="bag_of_words")
    checks.assert_close(submission.bag_of_words(tokens + new, vocab, binary=True),
                        expected["binary"], what="bag_of_words(binary=True)")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Shift by the maximum along the axis before exponentiating.")
def test_log_sum_exp_basic(submission, snapshot, inputs):
    rows, cols = inputs.randint(2, 4), inputs.randint(3, 5)
    offsets = np.array([inputs.choice([1000.0, 750.0, -1500.0, -2000.0]) for _ in range(rows)])
    a = inputs.wave(rows, cols, scale=3.0).double().numpy() + offsets[:, None]  # exp overflows
    expected = snapshot("log_sum_exp", lambda ref: [ref.log_sum_exp(a, axis=1),
                                                    ref.log_sum_exp(a, axis=0)])
    checks.assert_close(submission.log_sum_exp(a, axis=1), expected[0], atol=1e-9)
    checks.assert_close(submission.log_sum_exp(a, axis=0), expected[1], atol=1e-9)


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("feature_log_prob_ = log(N_cw + alpha) - log(sum_w (N_cw + alpha)); "
                  "class_log_prior_ = log(N_c / n); rows in the order of classes_.")
def test_multinomial_basic(submission, snapshot, inputs):
    X, y = counts(inputs)
    X_new = inputs.integers(0, 6, inputs.randint(4, 8), X.shape[1]).numpy().astype(np.float64)
    alpha = inputs.uniform(0.2, 2.0)

    def compute(ref):
        m = ref.MultinomialNaiveBayes(alpha=alpha).fit(X, y)
        top2 = np.sort(m.joint_log_likelihood(X_new), axis=1)[:, -2:]
        return {"class_log_prior_": m.class_log_prior_, "feature_log_prob_": m.feature_log_prob_,
                "predict_log_proba": m.predict_log_proba(X_new), "predict": m.predict(X_new),
                "clear": top2[:, 1] - top2[:, 0] > 1e-6}  # rows without a (near) tie

    expected = snapshot("multinomial", compute)
    m = submission.MultinomialNaiveBayes(alpha=alpha).fit(X, y)
    for name in ("class_log_prior_", "feature_log_prob_"):
        checks.assert_close(getattr(m, name), expected[name], atol=1e-8, what=name)
    checks.assert_close(m.predict_log_proba(X_new), expected["predict_log_proba"], atol=1e-8,
                        what="predict_log_proba")
    clear = expected["clear"]
    checks.assert_close(np.asarray(m.predict(X_new))[clear], expected["predict"][clear],
                        what="predict (rows without a tie)")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Absent words count: add log(1 - p) for every word the document lacks.")
def test_bernoulli_basic(submission, snapshot, inputs):
    X, y = counts(inputs)
    X_new = inputs.integers(0, 3, inputs.randint(4, 8), X.shape[1]).numpy().astype(np.float64)
    X_new[:, inputs.randint(0, X.shape[1] - 1)] = 0.0  # absent words are evidence too
    alpha = inputs.uniform(0.2, 2.0)
    expected = snapshot("bernoulli", lambda ref: ref.BernoulliNaiveBayes(alpha=alpha).fit(
        X, y).predict_log_proba(X_new))
    got = submission.BernoulliNaiveBayes(alpha=alpha).fit(X, y).predict_log_proba(X_new)
    checks.assert_close(got, expected, atol=1e-8)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Per-class means and biased variances, plus epsilon = var_smoothing times the "
                  "largest feature variance.")
def test_gaussian_basic(submission, snapshot, inputs):
    from sklearn.datasets import load_digits

    d = load_digits()
    order = inputs.permutation(len(d.target))
    X, y = d.data[order[:300]].astype(np.float64), d.target[order[:300]].astype(np.int64)
    X_new = d.data[order[300:320]].astype(np.float64)
    var_smoothing = inputs.choice([1e-2, 2e-2, 5e-2])

    def compute(ref):
        m = ref.GaussianNaiveBayes(var_smoothing=var_smoothing).fit(X, y)
        return {"var_": m.var_, "predict_log_proba": m.predict_log_proba(X_new)}

    expected = snapshot("gaussian", compute)
    m = submission.GaussianNaiveBayes(var_smoothing=var_smoothing).fit(X, y)
    checks.assert_close(m.var_, expected["var_"], atol=1e-8, what="var_")
    checks.assert_close(m.predict_log_proba(X_new), expected["predict_log_proba"], atol=1e-8,
                        what="predict_log_proba")


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("Raise ValueError for alpha <= 0, predicting before fit, and a wrong number "
                  "of features.")
def test_naive_bayes_bad_input(submission, inputs):
    checks.assert_raises(ValueError, submission.MultinomialNaiveBayes,
                         alpha=inputs.choice([0.0, -inputs.uniform(0.1, 2.0)]))
    X, y = counts(inputs)
    V = X.shape[1]
    checks.assert_raises(ValueError, submission.MultinomialNaiveBayes().predict, np.ones((1, V)))
    m = submission.MultinomialNaiveBayes().fit(X, y)
    checks.assert_raises(ValueError, m.predict, np.ones((1, V + inputs.choice([-1, 1, 2]))))


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.hint("loss = mean(logsumexp(z) - z[y]) + l2/2 ||W||^2; grad_W = (P - Y)^T X / n "
                  "+ l2 W, grad_b = mean(P - Y).")
def test_logreg_loss_and_gradient(submission, snapshot, inputs):
    X, _ = counts(inputs)
    C = inputs.randint(2, 4)
    W, b = inputs.wave(C, X.shape[1]).double(), inputs.wave(C).double()
    X, y = torch.tensor(X), inputs.integers(0, C, X.shape[0])
    l2 = inputs.uniform(0.01, 0.5)
    expected = snapshot("logreg", lambda ref: {"loss": ref.logreg_loss(W, b, X, y, l2=l2),
                                               "grad": ref.logreg_gradient(W, b, X, y, l2=l2)})
    checks.assert_close(submission.logreg_loss(W, b, X, y, l2=l2), expected["loss"],
                        atol=1e-10, what="logreg_loss")
    checks.assert_close(list(submission.logreg_gradient(W, b, X, y, l2=l2)),
                        list(expected["grad"]), atol=1e-10, what="logreg_gradient",
                        failure_class="gradient")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Confusion matrix: rows are true classes, columns predictions; macro-F1 "
                  "averages 2TP / (2TP + FP + FN) over all classes.")
def test_metrics_basic(submission, snapshot, inputs):
    n, C = inputs.randint(6, 12), inputs.randint(2, 4)
    y_true, y_pred = inputs.integers(0, C, n).tolist(), inputs.integers(0, C, n).tolist()
    num_classes = C + 1  # the last class neither occurs nor is predicted
    expected = snapshot("metrics", lambda ref: {
        "accuracy": ref.accuracy(y_true, y_pred), "f1": ref.macro_f1(y_true, y_pred, num_classes),
        "confusion": ref.confusion_matrix(y_true, y_pred, num_classes)})
    checks.assert_close(submission.accuracy(y_true, y_pred), expected["accuracy"], what="accuracy")
    checks.assert_close(submission.macro_f1(y_true, y_pred, num_classes), expected["f1"],
                        what="macro_f1")
    checks.assert_close(submission.confusion_matrix(y_true, y_pred, num_classes),
                        expected["confusion"], what="confusion_matrix")


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.timeout(60)
@pytest.mark.hint("Tokenize, build the vocabulary from the training texts, vectorise, fit "
                  "MultinomialNaiveBayes; check each step on a few posts by hand.")
def test_newsgroups_pipeline(submission):
    # A fixed split: the test checks a threshold, not an expected value, and the posts and their
    # labels ship with the course anyway (on some random splits the reference reaches only 0.83).
    from autograder.support.text import load_mini_newsgroups, stratified_split

    texts, labels = load_mini_newsgroups()
    train, test = stratified_split(labels, 0.3, seed=0)
    clf = submission.NaiveBayesTextClassifier().fit([texts[i] for i in train], labels[train])
    acc = float((np.asarray(clf.predict([texts[i] for i in test])) == labels[test]).mean())
    checks.expect(acc >= 0.8, "threshold", f"held-out accuracy {acc:.3f} < 0.8")
