"""Checkpoint 2: a Bayesian text classifier, generative against discriminative (see README.md)."""

from .logreg import LogisticRegression, logreg_gradient, logreg_loss, train_logistic_regression
from .metrics import accuracy, confusion_matrix, macro_f1
from .naive_bayes import (
    BernoulliNaiveBayes,
    GaussianNaiveBayes,
    MultinomialNaiveBayes,
    NaiveBayes,
    as_matrix,
    log_sum_exp,
)
from .pipeline import NaiveBayesTextClassifier
from .text import STOP_WORDS, UNK, Vocabulary, bag_of_words, tokenize

__all__ = [
    "STOP_WORDS",
    "UNK",
    "BernoulliNaiveBayes",
    "GaussianNaiveBayes",
    "LogisticRegression",
    "MultinomialNaiveBayes",
    "NaiveBayes",
    "NaiveBayesTextClassifier",
    "Vocabulary",
    "accuracy",
    "as_matrix",
    "bag_of_words",
    "confusion_matrix",
    "log_sum_exp",
    "logreg_gradient",
    "logreg_loss",
    "macro_f1",
    "tokenize",
    "train_logistic_regression",
]
