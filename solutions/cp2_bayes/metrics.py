r"""Classification metrics on integer labels in [0, C): accuracy, confusion matrix, macro-F1.

Labels may be numpy arrays, torch tensors or lists; convert them with :func:`_labels` (given),
which raises ValueError when y_true and y_pred differ in length or are empty.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def _labels(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both label vectors as 1-D int64 numpy arrays of one non-zero length (given)."""
    out = []
    for y in (y_true, y_pred):
        if isinstance(y, torch.Tensor):
            y = y.detach().cpu().numpy()
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"labels must be 1-D, got shape {y.shape}")
        out.append(y.astype(np.int64))
    if out[0].shape != out[1].shape or out[0].size == 0:
        raise ValueError(f"y_true and y_pred must have one non-zero length, got "
                         f"{out[0].shape[0]} and {out[1].shape[0]}")
    return out[0], out[1]


def accuracy(y_true: Any, y_pred: Any) -> float:
    r"""$\frac1n \sum_i [\hat y_i = y_i]$, a Python float."""
    # BEGIN SOLUTION: convert with _labels, then the mean of the matches
    y_true, y_pred = _labels(y_true, y_pred)
    return float(np.mean(y_true == y_pred))
    # END SOLUTION


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """(C, C) int64 matrix M with M[t, p] = the number of examples of true class t predicted as
    p (rows: truth, columns: prediction; scikit-learn's convention). Its trace is the number of
    correct predictions. Raises ValueError if a label lies outside [0, num_classes)."""
    # BEGIN SOLUTION: _labels, check range, count (true, pred)
    y_true, y_pred = _labels(y_true, y_pred)
    for y in (y_true, y_pred):
        if y.min() < 0 or y.max() >= num_classes:
            raise ValueError(f"labels must lie in [0, {num_classes}), got "
                             f"[{y.min()}, {y.max()}]")
    M = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(M, (y_true, y_pred), 1)
    return M
    # END SOLUTION


def macro_f1(y_true: Any, y_pred: Any, num_classes: int) -> float:
    r"""The unweighted mean over the C classes of $F_1^{(c)} = 2\,TP_c / (2\,TP_c + FP_c + FN_c)$.

    $F_1^{(c)}$ is the harmonic mean of class c's precision and recall; take it as 0 when its
    denominator is 0 (class c neither occurs nor is predicted). Every class in [0, C) counts,
    so a classifier that ignores a rare class is penalised, unlike accuracy. A Python float.
    Raises ValueError if a label lies outside [0, num_classes).
    """
    # BEGIN SOLUTION: TP, FP, FN from the confusion matrix
    M = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(M).astype(np.float64)
    fp = M.sum(axis=0) - tp
    fn = M.sum(axis=1) - tp
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1.mean())
    # END SOLUTION
