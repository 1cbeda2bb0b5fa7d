"""Obviously-correct pure-Python references for the GLAD and MACE updates.

Annotations are a list of ``(item, worker, label)`` code triples; every function
loops over them in plain Python and writes each probability straight from its
definition (no log-space tricks beyond a final ``log``), so a reader can check it
against the papers:

* GLAD: Whitehill et al., NIPS 2009 (multi-class form, wrong answers uniform);
* MACE: Hovy et al., NAACL 2013 (EM and variational Bayes).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# --------------------------------------------------------------------------- GLAD
def glad_answer_prob(y: int, k: int, alpha: float, log_beta: float, n_labels: int) -> float:
    """p(answer y | truth k) = sigmoid(alpha * beta) if y == k else (1 - sigmoid) / (K - 1)."""
    s = _sigmoid(alpha * math.exp(log_beta))
    return s if y == k else (1.0 - s) / (n_labels - 1)


def naive_glad_estep(rows, n_items, n_labels, prior, alpha, log_beta, gold=None):
    """Posteriors (items x labels) and log-likelihood (log p(y, gold) summed over items)."""
    joint = np.array([[prior[k] for k in range(n_labels)] for _ in range(n_items)], dtype=float)
    for i, w, y in rows:
        for k in range(n_labels):
            joint[i, k] *= glad_answer_prob(y, k, alpha[w], log_beta[i], n_labels)
    post = np.zeros((n_items, n_labels))
    ll = 0.0
    for i in range(n_items):
        if gold is not None and gold[i] >= 0:
            post[i, gold[i]] = 1.0
            ll += math.log(joint[i, gold[i]])
        else:
            total = sum(joint[i])
            post[i] = joint[i] / total
            ll += math.log(total)
    return post, ll


def naive_glad_q(rows, post, n_labels, alpha, log_beta):
    """Expected complete-data log-likelihood Σ_annotations Σ_k q_ik log p(y | k) (no priors)."""
    q = 0.0
    for i, w, y in rows:
        for k in range(n_labels):
            q += post[i, k] * math.log(glad_answer_prob(y, k, alpha[w], log_beta[i], n_labels))
    return q


def naive_glad_grad(rows, post, n_items, n_workers, n_labels, alpha, log_beta):
    """Gradient of :func:`naive_glad_q` by the chain rule, term by term."""
    ga = np.zeros(n_workers)
    gb = np.zeros(n_items)
    for i, w, y in rows:
        beta = math.exp(log_beta[i])
        s = _sigmoid(alpha[w] * beta)
        for k in range(n_labels):
            # d/dx log s = 1 - s ; d/dx log((1 - s)/(K-1)) = -s
            dx = (1.0 - s) if y == k else -s
            ga[w] += post[i, k] * dx * beta
            gb[i] += post[i, k] * dx * alpha[w] * beta
    return ga, gb


def naive_glad_prior(alpha, log_beta, alpha_prior, log_beta_prior):
    """Gaussian log-priors on alpha and log beta (without the constant) and gradients."""
    (ma, sa), (mb, sb) = alpha_prior, log_beta_prior
    val = 0.0
    ga = np.zeros(len(alpha))
    gb = np.zeros(len(log_beta))
    for w, a in enumerate(alpha):
        val -= 0.5 * ((a - ma) / sa) ** 2
        ga[w] = -(a - ma) / sa**2
    for i, b in enumerate(log_beta):
        val -= 0.5 * ((b - mb) / sb) ** 2
        gb[i] = -(b - mb) / sb**2
    return val, ga, gb


# --------------------------------------------------------------------------- MACE
def mace_answer_prob(y: int, k: int, spam: float, know: float, xi_y: float) -> float:
    """p(answer y | truth k) = spam * xi[y] + know * [y == k]."""
    return spam * xi_y + (know if y == k else 0.0)


def naive_mace_estep(rows, n_items, n_workers, n_labels, prior, spam, know, strategies, gold=None):
    """Posteriors, log-likelihood and expected counts (know[w], strategy[w, y]).

    The counts follow the definition: P(knew | answer) = Σ_k q_ik know [y == k] / p(y | k).
    """
    joint = np.array([[prior[k] for k in range(n_labels)] for _ in range(n_items)], dtype=float)
    for i, w, y in rows:
        for k in range(n_labels):
            joint[i, k] *= mace_answer_prob(y, k, spam[w], know[w], strategies[w][y])
    post = np.zeros((n_items, n_labels))
    ll = 0.0
    for i in range(n_items):
        if gold is not None and gold[i] >= 0:
            post[i, gold[i]] = 1.0
            ll += math.log(joint[i, gold[i]])
        else:
            total = sum(joint[i])
            post[i] = joint[i] / total
            ll += math.log(total)
    know_cnt = np.zeros(n_workers)
    strat_cnt = np.zeros((n_workers, n_labels))
    for i, w, y in rows:
        p_know = 0.0
        p_spam = 0.0
        for k in range(n_labels):
            py = mace_answer_prob(y, k, spam[w], know[w], strategies[w][y])
            p_know += post[i, k] * (know[w] if y == k else 0.0) / py
            p_spam += post[i, k] * spam[w] * strategies[w][y] / py
        know_cnt[w] += p_know
        strat_cnt[w, y] += p_spam
    return post, ll, know_cnt, strat_cnt


def naive_mace_mstep_em(know_cnt, strat_cnt, smoothing):
    """Smoothed maximum-likelihood update: (spam, know, strategies)."""
    n_workers, n_labels = strat_cnt.shape
    spam = np.zeros(n_workers)
    know = np.zeros(n_workers)
    strategies = np.zeros((n_workers, n_labels))
    for w in range(n_workers):
        s = sum(strat_cnt[w])
        spam[w] = (s + smoothing) / (s + know_cnt[w] + 2 * smoothing)
        know[w] = (know_cnt[w] + smoothing) / (s + know_cnt[w] + 2 * smoothing)
        for y in range(n_labels):
            strategies[w, y] = (strat_cnt[w, y] + smoothing) / (s + n_labels * smoothing)
    return spam, know, strategies


def naive_mace_mstep_vb(know_cnt, strat_cnt, theta_prior, strategy_prior):
    """Mean-field VB update: exp(E[log parameter]) under Beta / Dirichlet posteriors."""
    n_workers, n_labels = strat_cnt.shape
    b_spam, b_know = theta_prior
    spam = np.zeros(n_workers)
    know = np.zeros(n_workers)
    strategies = np.zeros((n_workers, n_labels))
    for w in range(n_workers):
        s = sum(strat_cnt[w])
        a_spam, a_know = s + b_spam, know_cnt[w] + b_know
        spam[w] = math.exp(digamma(a_spam) - digamma(a_spam + a_know))
        know[w] = math.exp(digamma(a_know) - digamma(a_spam + a_know))
        tot = sum(strat_cnt[w][y] + strategy_prior for y in range(n_labels))
        for y in range(n_labels):
            strategies[w, y] = math.exp(digamma(strat_cnt[w, y] + strategy_prior) - digamma(tot))
    return spam, know, strategies
