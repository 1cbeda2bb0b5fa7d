"""Obviously-correct NumPy/Python references of BCC and EBCC variational Bayes (small inputs only).

Same loop as the engine (:func:`crowdagg.em.run_em`): ``q`` from majority-vote
shares (EBCC: split at random among the subtypes), then ``n_iter + 1`` times
(Dirichlet update from ``q``, new ``q`` from the expected logs); the ELBO is
recorded after each of the last ``n_iter`` passes.  Annotations are plain code
arrays ``(item, worker, label)``; ``gold`` holds a label code per item or -1.
Digamma / log-gamma come from SciPy, the KL divergences are written out.
"""

from __future__ import annotations

import math

import numpy as np
from naive_em import mv_posteriors, used_items
from scipy.special import digamma, gammaln

MASK = (1 << 64) - 1


def elog(alpha):
    """E[log p] under Dir(alpha) along the last axis."""
    return digamma(alpha) - digamma(alpha.sum(axis=-1, keepdims=True))


def kl_dirichlet(a, b):
    """KL(Dir(a) || Dir(b)) for two 1-d parameter vectors."""
    a0, b0 = a.sum(), b.sum()
    return (gammaln(a0) - gammaln(a).sum() - gammaln(b0) + gammaln(b).sum()
            + ((a - b) * (digamma(a) - digamma(a0))).sum())


def lse(x):
    m = x.max()
    return m + math.log(np.exp(x - m).sum())


# --------------------------------------------------------------------------- BCC
def bcc(item, worker, label, n_items, n_workers, k, gold=None, n_iter=10, alpha_diag=4.0, alpha_off=1.0,
        class_prior=1.0, post=None):
    """BCC by VB; returns ``(post, elbo history, confusion_counts, class_counts)``."""
    gold = np.full(n_items, -1) if gold is None else np.asarray(gold)
    beta = np.full((k, k), alpha_off)
    np.fill_diagonal(beta, alpha_diag)
    alpha = np.full(k, class_prior)
    used = used_items(item, n_items, gold)
    q = mv_posteriors(item, label, n_items, k, gold) if post is None else post
    history = []
    for t in range(n_iter + 1):
        mu = np.repeat(beta[None], n_workers, axis=0)
        for j in range(item.shape[0]):
            mu[worker[j], :, label[j]] += q[item[j]]
        nu = alpha + q[used].sum(axis=0)
        elog_v, elog_tau = elog(mu), elog(nu)
        q = np.zeros((n_items, k))
        elbo = 0.0
        for i in range(n_items):
            lp = elog_tau.copy()
            for j in np.flatnonzero(item == i):
                lp += elog_v[worker[j], :, label[j]]
            if gold[i] >= 0:
                q[i, gold[i]] = 1.0
                term = lp[gold[i]]
            else:
                q[i] = np.exp(lp - lse(lp))
                term = lse(lp)
            if used[i]:
                elbo += term
        for w in range(n_workers):
            for c in range(k):
                elbo -= kl_dirichlet(mu[w, c], beta[c])
        elbo -= kl_dirichlet(nu, alpha)
        if t > 0:
            history.append(elbo)
    return q, np.array(history), mu, nu


# --------------------------------------------------------------------------- EBCC
def splitmix_draws(key, n):
    """``n`` uniforms in (0, 1) from the splitmix64 stream seeded by ``key``."""
    out = []
    state = int(key)
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z = z ^ (z >> 31)
        out.append(((z >> 11) + 1) / 9007199254740993.0)
    return out


def ebcc_split(post, keys, n_sub):
    """The initial joint q: ``post[i, k] * d`` with ``d`` a Dir(1) draw per item and class."""
    n_items, k = post.shape
    zg = np.zeros((n_items, k, n_sub))
    for i in range(n_items):
        u = splitmix_draws(keys[i], k * n_sub)
        for c in range(k):
            e = -np.log(np.array(u[c * n_sub:(c + 1) * n_sub]))
            zg[i, c] = post[i, c] * e / e.sum()
    return zg


def ebcc(item, worker, label, n_items, n_workers, k, keys, gold=None, n_iter=10, n_sub=3, alpha_diag=4.0,
         alpha_off=1.0, class_prior="empirical", subtype_prior=0.1):
    """EBCC by VB from the split of majority-vote shares seeded by ``keys`` (uint64 per item);
    returns ``(class posteriors, elbo history, params dict)``."""
    gold = np.full(n_items, -1) if gold is None else np.asarray(gold)
    beta = np.full((k, k), alpha_off)
    np.fill_diagonal(beta, alpha_diag)
    used = used_items(item, n_items, gold)
    zg = ebcc_split(mv_posteriors(item, label, n_items, k, gold), keys, n_sub)
    zg[~used] = 0.0
    if class_prior == "empirical":
        alpha = np.maximum(zg.sum(axis=(0, 2)), 1e-10)  # the documented floor of an unused class
    else:
        alpha = np.full(k, float(class_prior))
    a_pi = np.full(n_sub, subtype_prior / n_sub)
    history = []
    for t in range(n_iter + 1):
        mu = np.repeat(np.repeat(beta[None, :, None, :], n_sub, axis=2), n_workers, axis=0)
        for j in range(item.shape[0]):
            mu[worker[j], :, :, label[j]] += zg[item[j]]
        eta = a_pi[None, :] + zg.sum(axis=0)
        nu = alpha + zg.sum(axis=(0, 2))
        elog_v, elog_pi, elog_tau = elog(mu), elog(eta), elog(nu)
        new = np.zeros((n_items, k, n_sub))
        q = np.zeros((n_items, k))
        elbo = 0.0
        for i in range(n_items):
            lp = elog_tau[:, None] + elog_pi
            for j in np.flatnonzero(item == i):
                lp = lp + elog_v[worker[j], :, :, label[j]]
            if gold[i] >= 0:
                g = gold[i]
                new[i, g] = np.exp(lp[g] - lse(lp[g]))
                term = lse(lp[g])
            else:
                new[i] = np.exp(lp - lse(lp.ravel()))
                term = lse(lp.ravel())
            q[i] = new[i].sum(axis=1)
            if used[i]:
                elbo += term
        zg = np.where(used[:, None, None], new, 0.0)
        for w in range(n_workers):
            for c in range(k):
                for m in range(n_sub):
                    elbo -= kl_dirichlet(mu[w, c, m], beta[c])
        for c in range(k):
            elbo -= kl_dirichlet(eta[c], a_pi)
        elbo -= kl_dirichlet(nu, alpha)
        if t > 0:
            history.append(elbo)
    params = {"confusion_counts": mu, "subtype_counts": eta, "class_counts": nu, "class_prior": alpha}
    return q, np.array(history), params


# --------------------------------------------------------------------------- EBCC's split keys
GOLDEN = 0x9E3779B97F4A7C15
SALT = 0x243F6A8885A308D3


def mix(z):
    """The splitmix64 finaliser on Python ints."""
    z &= MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def answer_hash(key, label):
    return mix(key ^ (((label + 1) * GOLDEN) & MASK))


def split_keys(item, worker, label, n_items, n_workers, seed):
    """Item keys of EBCC's initial split: worker keys from answer counts, refined once by
    the keys of the items they answered, then each item's answers hashed with ``seed``."""
    counts = np.bincount(worker, minlength=n_workers)
    wk0 = [mix(int(c) + SALT) for c in counts]
    sums = [0] * n_workers
    for i in range(n_items):
        js = np.flatnonzero(item == i)
        ik = mix(sum(answer_hash(wk0[worker[j]], int(label[j])) for j in js) & MASK)
        for j in js:
            sums[worker[j]] = (sums[worker[j]] + answer_hash(ik, int(label[j]))) & MASK
    wk1 = [mix(wk0[w] ^ sums[w]) for w in range(n_workers)]
    keys = []
    for i in range(n_items):
        js = np.flatnonzero(item == i)
        acc = sum(answer_hash(wk1[worker[j]], int(label[j])) for j in js) & MASK
        keys.append(mix(acc ^ int(seed)))
    return keys
