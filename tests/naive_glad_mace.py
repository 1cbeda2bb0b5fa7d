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
    if x < 0:  # (no overflow in exp)
        return math.exp(x) / (1.0 + math.exp(x))
    return 1.0 / (1.0 + math.exp(-x))


# --------------------------------------------------------------------------- GLAD
def glad_answer_prob(y: int, k: int, alpha: float, log_beta: float, n_labels: int) -> float:
    """p(answer y | truth k) = sigmoid(alpha * beta) if y == k else (1 - sigmoid) / (K - 1),
    with 1 - sigmoid(x) written sigmoid(-x) (no digits lost for large x)."""
    x = alpha * math.exp(log_beta)
    return _sigmoid(x) if y == k else _sigmoid(-x) / (n_labels - 1)


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


def _expected_log_dirichlet(alpha, beta):
    """E_q[log Dirichlet(x | alpha)] under q = Dirichlet(beta), from the density:
    log Γ(Σα) - Σ log Γ(α_k) + Σ (α_k - 1) E_q[log x_k], E_q[log x_k] = ψ(β_k) - ψ(Σβ)."""
    out = math.lgamma(sum(alpha)) - sum(math.lgamma(a) for a in alpha)
    for a, b in zip(alpha, beta):
        out += (a - 1.0) * (digamma(b) - digamma(sum(beta)))
    return out


def naive_mace_elbo(rows, n_items, n_labels, post, know_cnt, strat_cnt, tot, theta_prior, strategy_prior,
                    learn_prior, gold=None):
    """MACE's evidence lower bound from its definition, with the answers' spam indicators
    ``s`` written out: ``E_q[log p(y, z, s, theta, xi, pi)] - E_q[log q(z, s, theta, xi, pi)]``.

    ``q(z_i) = post[i]`` (gold items: one-hot); ``q(s | z)`` the exact conditional (an answer
    ``y != z`` is spam for sure; ``y == z`` was known with probability ``e^a / (e^a + e^b)``,
    ``a = E log theta``, ``b = E log (1 - theta) + E log xi[y]``); the parameters'
    ``q`` are ``Beta(S_w + b_spam, K_w + b_know)``, ``Dirichlet(c_w + d)`` and, with learnt
    priors, ``Dirichlet(T + 1)`` (else uniform, fixed).  Items without answers or gold are
    left out (the learnt priors do not count them).
    """
    n_workers = strat_cnt.shape[0]
    b_spam, b_know = theta_prior
    d = strategy_prior

    def e_log(beta, k):  # E_q[log x_k] under Dirichlet(beta)
        return digamma(beta[k]) - digamma(sum(beta))

    th = [[sum(strat_cnt[w]) + b_spam, know_cnt[w] + b_know] for w in range(n_workers)]
    xi = [[strat_cnt[w][y] + d for y in range(n_labels)] for w in range(n_workers)]
    pi = [tot[k] + 1.0 for k in range(n_labels)]
    answers = {}
    for i, w, y in rows:
        answers.setdefault(i, []).append((w, y))
    elbo = 0.0
    for i in range(n_items):
        has_gold = gold is not None and gold[i] >= 0
        if i not in answers and not has_gold:
            continue
        for z in range(n_labels):
            q = post[i][z]
            if q <= 0.0:
                continue
            term = (e_log(pi, z) if learn_prior else math.log(1.0 / n_labels)) - math.log(q)
            for w, y in answers.get(i, []):
                b = e_log(th[w], 0) + e_log(xi[w], y)  # spammed: log (1 - theta) + log xi[y]
                if y != z:
                    term += b
                    continue
                a = e_log(th[w], 1)  # known: log theta
                r = math.exp(a) / (math.exp(a) + math.exp(b))
                term += r * (a - math.log(r)) + (1.0 - r) * (b - math.log(1.0 - r))
            elbo += q * term
    # E_q[log p(params)] - E_q[log q(params)] = -KL, from the densities
    for w in range(n_workers):
        elbo += _expected_log_dirichlet([b_spam, b_know], th[w]) - _expected_log_dirichlet(th[w], th[w])
        elbo += _expected_log_dirichlet([d] * n_labels, xi[w]) - _expected_log_dirichlet(xi[w], xi[w])
    if learn_prior:
        elbo += _expected_log_dirichlet([1.0] * n_labels, pi) - _expected_log_dirichlet(pi, pi)
    return elbo


def naive_mace_prior_update(post, answered, method, smoothing):
    """Learnt class priors from the posterior class totals ``T`` of answered (or gold) items:
    EM ``(T_k + s) / (Σ T + K s)``; VB ``exp(ψ(T_k + 1) - ψ(Σ T + K))`` (a Dirichlet(1) prior)."""
    n_labels = post.shape[1]
    tot = [sum(post[i, k] for i in range(post.shape[0]) if answered[i]) for k in range(n_labels)]
    if method == "vb":
        return np.array([math.exp(digamma(tot[k] + 1.0) - digamma(sum(tot) + n_labels)) for k in range(n_labels)])
    return np.array([(tot[k] + smoothing) / (sum(tot) + n_labels * smoothing) for k in range(n_labels)])


# --------------------------------------------------------------------------- GLAD M-step (block-coordinate Newton)
def naive_glad_item_objective(rows_i, i, n_labels, prior, post, gold_i, marginal, alpha, b, log_beta_prior):
    """Item ``i``'s M-step objective at ``log_beta = b`` and its posterior ``q``.

    ``marginal``: ``log p(y_i, gold) = log sum_k prior[k] prod_j p(y_j | k)`` (gold: the gold
    term alone) and ``q`` its posterior; else ``sum_k post[i, k] log(prior[k] prod_j
    p(y_j | k))`` with ``q = post[i]``.  Plus the Gaussian log-prior of ``b``.
    """
    mb, sb = log_beta_prior
    joint = [math.log(prior[k]) for k in range(n_labels)]
    for _, w, y in rows_i:
        for k in range(n_labels):
            joint[k] += math.log(glad_answer_prob(y, k, alpha[w], b, n_labels))
    if not marginal:
        q = [post[i, k] for k in range(n_labels)]
        val = sum(q[k] * joint[k] for k in range(n_labels))
    elif gold_i >= 0:
        q = [1.0 if k == gold_i else 0.0 for k in range(n_labels)]
        val = joint[gold_i]
    else:
        top = max(joint)
        z = sum(math.exp(v - top) for v in joint)
        q = [math.exp(v - top) / z for v in joint]
        val = top + math.log(z)
    return val - 0.5 * ((b - mb) / sb) ** 2, q


def naive_glad_item_derivatives(rows_i, n_labels, q, marginal, alpha, b, log_beta_prior):
    """First and second derivative of :func:`naive_glad_item_objective` in ``b`` and the
    Gauss-Newton curvature, term by term (``x = alpha * exp(b)``, ``dx/db = x``):
    ``d/db log p(y | k) = x [y == k] - sigmoid(x) x``; the marginal's second derivative
    adds the posterior variance of ``c_k = sum_{j: y_j = k} x_j``."""
    mb, sb = log_beta_prior
    d1 = -(b - mb) / sb**2
    d2 = -1.0 / sb**2
    gn = 1.0 / sb**2
    c = [0.0] * n_labels
    for _, w, y in rows_i:
        x = alpha[w] * math.exp(b)
        s = _sigmoid(x)
        d1 += q[y] * x - s * x
        d2 += q[y] * x - s * x - s * (1 - s) * x * x
        gn += s * (1 - s) * x * x
        c[y] += x
    if marginal:
        mean = sum(q[k] * c[k] for k in range(n_labels))
        d2 += sum(q[k] * (c[k] - mean) ** 2 for k in range(n_labels))
    return d1, d2, gn


def naive_glad_items_update(rows, n_items, n_workers, n_labels, prior, post, gold, marginal, alpha, log_beta,
                            log_beta_prior, n_newton, max_step=1.0, min_share=0.1):
    """The item pass of the GLAD M-step: new ``log_beta``, per-worker (gradient, curvature,
    largest beta) at it and the posteriors used (items x labels).  Each item: up to ``n_newton`` steps ``d1 / max(-d2, min_share * gn)``,
    clipped to ``max_step``, halved until the objective does not decrease (40 times at most; a
    step whose predicted change ``|d1 step|`` is below ``1e-12 (1 + |value|)`` is taken)."""
    by_item = [[] for _ in range(n_items)]
    for r in rows:
        by_item[r[0]].append(r)
    new = np.array(log_beta, dtype=float)
    grad = np.zeros(n_workers)
    curv = np.zeros(n_workers)
    rmax = np.zeros(n_workers)
    qs = np.zeros((n_items, n_labels))
    for i in range(n_items):
        b = log_beta[i]
        val, q = naive_glad_item_objective(by_item[i], i, n_labels, prior, post, gold[i], marginal, alpha, b,
                                           log_beta_prior)
        for _ in range(n_newton):
            d1, d2, gn = naive_glad_item_derivatives(by_item[i], n_labels, q, marginal, alpha, b, log_beta_prior)
            step = d1 / max(-d2, min_share * gn)
            step = min(max(step, -max_step), max_step)
            if abs(step) < 1e-13:
                break
            for _ in range(40):
                bt = min(max(b + step, -50.0), 50.0)
                vt, qt = naive_glad_item_objective(by_item[i], i, n_labels, prior, post, gold[i], marginal, alpha,
                                                   bt, log_beta_prior)
                if vt >= val or abs(d1 * step) <= 1e-12 * (1 + abs(val)):  # (below rounding noise)
                    break
                step /= 2
            else:
                break
            b, val, q = bt, vt, qt
        new[i] = b
        qs[i] = q
        beta = math.exp(b)
        for _, w, y in by_item[i]:
            s = _sigmoid(alpha[w] * beta)
            grad[w] += (q[y] - s) * beta
            curv[w] += s * (1 - s) * beta * beta
            rmax[w] = max(rmax[w], beta)
    return new, grad, curv, rmax, qs


def naive_glad_alpha_update(alpha, grad, curv, rmax, alpha_prior):
    """Each ability moves to the maximiser of the lower bound
    ``g t - D (exp(R|t|) - 1 - R|t|) / R^2 - P t^2 / 2`` of its objective's change
    (``g``: gradient with the prior, ``D``: data curvature, ``P = 1 / s_a^2``, ``R``: largest
    beta), found by bisection on the bound's derivative."""
    ma, sa = alpha_prior
    p = 1.0 / sa**2
    out = np.array(alpha, dtype=float)
    for w, a in enumerate(alpha):
        g = grad[w] - (a - ma) * p
        d, r = curv[w], rmax[w]
        if g == 0:
            continue
        if r == 0 or d == 0:
            t = abs(g) / (d + p)
        else:
            lo, hi = 0.0, abs(g) / (d + p)
            for _ in range(200):
                mid = (lo + hi) / 2
                if d * math.expm1(min(r * mid, 700.0)) / r + p * mid - abs(g) > 0:
                    hi = mid
                else:
                    lo = mid
            t = (lo + hi) / 2
        out[w] = min(max(a + math.copysign(t, g), -1e6), 1e6)
    return out


def naive_glad_worker_objective(rows, post, n_labels, alpha, log_beta, alpha_prior, w):
    """Worker ``w``'s part of ``Q`` plus its log-prior (what the ability step increases)."""
    ma, sa = alpha_prior
    val = -0.5 * ((alpha[w] - ma) / sa) ** 2
    for i, v, y in rows:
        if v == w:
            for k in range(n_labels):
                val += post[i, k] * math.log(glad_answer_prob(y, k, alpha[w], log_beta[i], n_labels))
    return val
