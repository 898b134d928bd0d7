r"""Naive Bayes classifiers: multinomial and Bernoulli for word counts, Gaussian for pixels.

A generative classifier models how each class produces a document, $p(x \mid y = c)$, and a
class prior $\pi_c = p(y = c)$, then classifies with Bayes' rule,
$p(c \mid x) = \pi_c\, p(x \mid c) / \sum_{c'} \pi_{c'}\, p(x \mid c')$. "Naive" means that
the features are independent given the class, so $\log p(x \mid c)$ is a sum over features.

Everything is float64 numpy. Feature matrices X are (n, V): a ``numpy.ndarray``, a torch
tensor (converted with :func:`as_matrix`), or, for the count models, a ``scipy.sparse`` matrix.
Labels y are (n,) integers; ``classes_`` holds the distinct labels in increasing order, and
every per-class array is in that order (row k belongs to class ``classes_[k]``). Attribute
names follow scikit-learn, whose results these classes reproduce to 1e-8.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

Matrix = np.ndarray | sp.spmatrix


def as_matrix(X: Any) -> Matrix:
    """X as a 2-D float64 numpy array, or a float64 CSR matrix if it is scipy-sparse (given).

    Accepts ndarrays, torch tensors (moved to the CPU), nested lists and scipy sparse matrices.
    Raises ValueError if X is not 2-D.
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)
    else:
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D feature matrix (n, V), got shape {X.shape}")
    return X


def as_labels(y: Any) -> np.ndarray:
    """y as a 1-D int64 numpy array (given). Raises ValueError if y is not 1-D."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"expected 1-D labels (n,), got shape {y.shape}")
    return y.astype(np.int64)


def log_sum_exp(a: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""Numerically stable $\log \sum_j e^{a_j}$ along ``axis`` (the axis is removed).

    $\mathrm{lse}(a) = m + \log \sum_j e^{a_j - m}$ with $m = \max_j a_j$. The joint
    log-likelihoods of long documents are in the thousands below zero, where ``exp`` underflows
    to 0 and the naive formula gives $\log 0 = -\infty$. A slice whose entries are all
    $-\infty$ gives $-\infty$ (take m = 0 there instead of $-\infty$, to avoid inf - inf).
    a: any shape, float64. Returns a's shape without ``axis``.
    """
    raise NotImplementedError("TODO: m + log(sum(exp(a - m))), m the max")


class NaiveBayes:
    """What every naive Bayes classifier shares: validation, Bayes' rule and prediction.

    A subclass implements ``fit(X, y)`` (returning ``self``), which must set ``classes_`` (C,),
    ``class_count_`` (C,), ``class_log_prior_`` (C,) and ``n_features_in_`` (V); and
    ``joint_log_likelihood(X)``, the (n, C) matrix of $\\log \\pi_c + \\log p(x_i \\mid c)$.
    """

    classes_: np.ndarray | None = None
    n_features_in_: int = 0

    def _check_fit_input(self, X: Any, y: Any) -> tuple[Matrix, np.ndarray]:
        """(X, y) converted with :func:`as_matrix` / :func:`as_labels`, after checking them.

        Raises ValueError if X has no rows (n = 0) or no columns, or y's length is not n.
        """
        X, y = as_matrix(X), as_labels(y)
        raise NotImplementedError("TODO: reject n = 0, V = 0 and len(y) != n")
        return X, y

    def _check_predict_input(self, X: Any) -> Matrix:
        """X converted with :func:`as_matrix`, after checking that the model is ready for it.

        Raises ValueError if ``fit`` has not been called yet (``classes_`` is None), or X does
        not have ``n_features_in_`` columns.
        """
        X = as_matrix(X)
        raise NotImplementedError("TODO: reject an unfitted model and a wrong number of columns")
        return X

    def fit(self, X: Any, y: Any) -> NaiveBayes:
        raise NotImplementedError  # each subclass has its own

    def joint_log_likelihood(self, X: Any) -> np.ndarray:
        raise NotImplementedError  # each subclass has its own

    def predict_log_proba(self, X: Any) -> np.ndarray:
        r"""(n, C) log posteriors $\log p(c \mid x_i) = J_{ic} - \mathrm{lse}_{c'} J_{ic'}$,
        J = ``joint_log_likelihood(X)``, normalised with :func:`log_sum_exp` (never
        ``log(exp(J) / sum)``: J is far below zero for long documents)."""
        raise NotImplementedError("TODO: J minus its log-sum-exp over the classes")

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, C) posteriors, each row summing to one: exp of :meth:`predict_log_proba`."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """(n,) int64: the label (from ``classes_``) of the largest joint log-likelihood."""
        raise NotImplementedError("TODO: the class label at the argmax of J over the classes")

    def score(self, X: Any, y: Any) -> float:
        """Accuracy of :meth:`predict` on (X, y), a Python float.

        Raises ValueError if y contains a label that is not in ``classes_`` (a class never seen
        in training can never be predicted: that is a data error, not a low score).
        """
        y = as_labels(y)
        raise NotImplementedError("TODO: reject unseen labels, then accuracy")


def _one_hot(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes (C,), Y (n, C) float64 with Y[i, k] = 1 if y[i] == classes[k]) (given)."""
    classes, index = np.unique(y, return_inverse=True)
    Y = np.zeros((y.shape[0], classes.shape[0]))
    Y[np.arange(y.shape[0]), index] = 1.0
    return classes, Y


class MultinomialNaiveBayes(NaiveBayes):
    r"""Multinomial naive Bayes with Lidstone smoothing ``alpha`` (Laplace for alpha = 1).

    A document of class c is a sequence of words drawn independently from a distribution
    $\theta_c$ over the V features, so with counts $x$,
    $\log p(x \mid c) = \sum_w x_w \log \theta_{cw}$ + a term that does not depend on c.

    ``fit(X, y)`` with X (n, V) non-negative counts (dense or scipy-sparse) and y (n,) sets

    - ``classes_`` (C,) int64: the distinct labels, increasing; ``n_features_in_`` = V;
    - ``class_count_`` (C,): documents per class, $N_c$;
    - ``feature_count_`` (C, V): $N_{cw} = \sum_{i: y_i = c} X_{iw}$;
    - ``class_log_prior_`` (C,): $\log \pi_c = \log N_c - \log \sum_{c'} N_{c'}$;
    - ``feature_log_prob_`` (C, V):
      $\log \theta_{cw} = \log(N_{cw} + \alpha) - \log \sum_{w'} (N_{cw'} + \alpha)$

    and returns ``self``. Smoothing keeps a word unseen in class c from zeroing the likelihood
    of every document that contains it. ``joint_log_likelihood(X)`` is
    $J = X \log\theta^\top + \log \pi$, (n, C).

    Raises ValueError: alpha <= 0 (in the constructor; alpha = 0 would give $\log 0$ for every
    unseen word), negative counts in X (in fit), plus the checks of :class:`NaiveBayes`.
    """

    def __init__(self, alpha: float = 1.0):
        raise NotImplementedError("TODO: reject alpha <= 0, store it")

    def fit(self, X: Any, y: Any) -> MultinomialNaiveBayes:
        X, y = self._check_fit_input(X, y)
        raise NotImplementedError("TODO: counts, then the two log tables")

    def joint_log_likelihood(self, X: Any) -> np.ndarray:
        X = self._check_predict_input(X)
        raise NotImplementedError("TODO: X @ feature_log_prob_.T + class_log_prior_")

    def informative_features(self, k: int = 10) -> np.ndarray:
        r"""(C, k) int64: for each class c, the k features most indicative of c.

        Feature w's score for class c is its log-probability in c against the mean over the
        other classes, $s_{cw} = \log\theta_{cw} - \frac{1}{C-1}\sum_{c' \ne c}\log\theta_{c'w}$.
        Row c lists the indices of the k largest scores in decreasing order of score; equal
        scores in increasing order of index (a stable sort of $-s_c$). Map indices to words with
        ``vocab.itos``. Raises ValueError if not fitted, C < 2, or k is not in [1, V].
        """
        raise NotImplementedError("TODO: scores, stable argsort of -score per class")


class BernoulliNaiveBayes(NaiveBayes):
    r"""Bernoulli naive Bayes: each feature is present ($b_w = 1$) or absent ($b_w = 0$).

    Features are binarised, $b_w = [x_w > \text{binarize}]$, in fit and in prediction. Each
    class has a probability $p_{cw}$ that feature w is present, and, unlike the multinomial
    model, an *absent* word is evidence too:
    $\log p(b \mid c) = \sum_w b_w \log p_{cw} + (1 - b_w) \log(1 - p_{cw})$.

    ``fit(X, y)`` sets ``classes_``, ``n_features_in_``, ``class_count_`` ($N_c$),
    ``class_log_prior_`` (as in :class:`MultinomialNaiveBayes`), ``feature_count_`` (C, V) =
    $N_{cw}$ = the number of class-c documents in which w is present, and
    ``feature_log_prob_`` (C, V) $= \log p_{cw} = \log(N_{cw} + \alpha) - \log(N_c + 2\alpha)$;
    returns ``self``. ``joint_log_likelihood(X)`` =
    $\log\pi_c + \sum_w b_{iw} \log p_{cw} + (1 - b_{iw}) \log(1 - p_{cw})$, (n, C); write it
    as one matrix product plus a per-class constant. Raises ValueError for alpha <= 0.
    """

    def __init__(self, alpha: float = 1.0, binarize: float = 0.0):
        raise NotImplementedError("TODO: reject alpha <= 0, store alpha and binarize")

    def _binary(self, X: Matrix) -> Matrix:
        """X > binarize as float64 0/1, dense or sparse like X (given)."""
        return (X > self.binarize).astype(np.float64)

    def fit(self, X: Any, y: Any) -> BernoulliNaiveBayes:
        X, y = self._check_fit_input(X, y)
        raise NotImplementedError("TODO: binarise, count, then log p")

    def joint_log_likelihood(self, X: Any) -> np.ndarray:
        X = self._check_predict_input(X)
        raise NotImplementedError("TODO: B @ (log p - log(1-p)).T + const per class")


class GaussianNaiveBayes(NaiveBayes):
    r"""Gaussian naive Bayes for continuous features (pixels, for instance).

    Given class c, feature j is normal with mean $\mu_{cj}$ and variance $\sigma^2_{cj}$:
    $\log p(x \mid c) = -\frac12 \sum_j \left[\log(2\pi\sigma^2_{cj})
    + (x_j - \mu_{cj})^2 / \sigma^2_{cj}\right]$.

    ``fit(X, y)``, X (n, V) dense, sets ``classes_``, ``n_features_in_``, ``class_count_``,
    ``class_prior_`` (C,) $= N_c / n$, ``class_log_prior_`` = its log,
    ``theta_`` (C, V): the per-class means, ``epsilon_`` = ``var_smoothing`` times the largest
    variance of any feature over the whole training set, and ``var_`` (C, V): the per-class
    variances (the biased ones, dividing by $N_c$) plus ``epsilon_``. The added epsilon keeps a
    pixel that is constant within a class (variance 0) from dividing by zero. Returns ``self``.
    ``joint_log_likelihood(X)`` is $\log \pi_c + \log p(x_i \mid c)$, (n, C).

    Raises ValueError: var_smoothing < 0 (constructor), a sparse X, or a zero variance left
    after smoothing (every feature constant) in fit.
    """

    def __init__(self, var_smoothing: float = 1e-9):
        raise NotImplementedError("TODO: reject var_smoothing < 0, store it")

    def fit(self, X: Any, y: Any) -> GaussianNaiveBayes:
        X, y = self._check_fit_input(X, y)
        raise NotImplementedError("TODO: per-class mean, variance + epsilon")

    def joint_log_likelihood(self, X: Any) -> np.ndarray:
        X = self._check_predict_input(X)
        raise NotImplementedError("TODO: Gaussian log-density summed + log prior")
