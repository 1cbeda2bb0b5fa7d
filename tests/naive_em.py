"""Obviously-correct pure NumPy references of the EM updates (slow; small inputs only).

Each function follows the engine's loop: initial parameters, a posterior pass,
then ``n_iter`` times (M-step, posterior pass).  Annotations are plain arrays
``(item, worker, label)`` of codes; ``gold`` holds a label code per item or -1.
"""

from __future__ import annotations

import numpy as np


def mv_posteriors(item, label, n_items, n_labels, gold):
    post = np.zeros((n_items, n_labels))
    np.add.at(post, (item, label), 1.0)
    tot = post.sum(axis=1, keepdims=True)
    post = np.where(tot > 0, post / np.where(tot > 0, tot, 1), 1.0 / n_labels)
    return apply_gold(post, gold)


def apply_gold(post, gold):
    post = post.copy()
    for i, g in enumerate(gold):
        if g >= 0:
            post[i] = 0.0
            post[i, g] = 1.0
    return post


def used_items(item, n_items, gold):
    has = np.zeros(n_items, bool)
    has[item] = True
    return has | (gold >= 0)


def posterior_pass(item, worker, label, n_items, log_prior, loglik_fn, gold):
    """Posteriors and log-likelihood; ``loglik_fn(w, y)`` = vector over true classes."""
    k = log_prior.shape[0]
    post = np.zeros((n_items, k))
    ll = 0.0
    for i in range(n_items):
        lp = log_prior.copy()
        for j in np.flatnonzero(item == i):
            lp = lp + loglik_fn(worker[j], label[j])
        if gold[i] >= 0:
            post[i, gold[i]] = 1.0
            ll += lp[gold[i]]
        else:
            m = lp.max()
            p = np.exp(lp - m)
            post[i] = p / p.sum()
            ll += m + np.log(p.sum())
    return post, ll


# --------------------------------------------------------------------------- Dawid-Skene
#: the estimators' default ``correct_prior`` (pseudo-count of correct answers)
CORRECT_PRIOR = 5.0


def ds_mstep(item, worker, label, n_items, n_workers, k, post, gold, a, c=CORRECT_PRIOR):
    counts = np.zeros((n_workers, k, k))  # worker x true x observed
    for j in range(item.shape[0]):
        counts[worker[j], :, label[j]] += post[item[j]]
    cells = counts + a + c * np.eye(k)[None]  # c extra correct answers on every diagonal cell
    conf = cells / cells.sum(axis=2, keepdims=True)
    tot = post[used_items(item, n_items, gold)].sum(axis=0)
    priors = (tot + a) / (tot.sum() + k * a)
    return conf, priors


def ds_loglik(conf):
    return lambda w, y: np.log(conf[w, :, y])


def ds_estep_stats(item, worker, label, n_items, log_prior, conf, gold):
    """One Dawid-Skene E-step with the next M-step's statistics, straight from the
    definitions: posteriors and log-likelihood (:func:`posterior_pass`), ``counts[w, y, k]
    = Σ_{j: w_j = w, y_j = y} post[i_j, k]`` (worker x observed x true, the kernels'
    layout) and ``tot[k] = Σ post[i, k]`` over items with answers or gold."""
    post, ll = posterior_pass(item, worker, label, n_items, log_prior, ds_loglik(conf), gold)
    n_workers, k = conf.shape[0], conf.shape[1]
    counts = np.zeros((n_workers, k, k))
    for j in range(item.shape[0]):
        counts[worker[j], label[j]] += post[item[j]]
    return post, ll, counts, post[used_items(item, n_items, gold)].sum(axis=0)


def one_hot_argmax(post):
    return np.eye(post.shape[1])[np.argmax(post, axis=1)]


def ds_em(item, worker, label, n_items, n_workers, k, gold, n_iter, a=0.01, init="mv", hard=False,
          c=CORRECT_PRIOR):
    """Dawid-Skene EM; ``hard=True``: M-steps on one-hot argmax posteriors (fast DS);
    ``c``: pseudo-count of correct answers (``0``: the plain model)."""
    h = one_hot_argmax if hard else (lambda p: p)
    if init == "mv":
        conf, priors = ds_mstep(item, worker, label, n_items, n_workers, k,
                                h(mv_posteriors(item, label, n_items, k, gold)), gold, a, c)
    else:
        conf, priors = init
    lls = []
    post, ll = posterior_pass(item, worker, label, n_items, np.log(priors),
                              ds_loglik(conf), gold)
    for _ in range(n_iter):
        conf, priors = ds_mstep(item, worker, label, n_items, n_workers, k, h(post), gold, a, c)
        post, ll = posterior_pass(item, worker, label, n_items, np.log(priors),
                                  ds_loglik(conf), gold)
        lls.append(ll)
    return post, conf, priors, np.array(lls)


# --------------------------------------------------------------------------- one-coin
def oc_mstep(item, worker, label, n_items, n_workers, k, post, gold, a, c=CORRECT_PRIOR):
    corr = np.zeros(n_workers)
    n = np.zeros(n_workers)
    for j in range(item.shape[0]):
        corr[worker[j]] += post[item[j], label[j]]
        n[worker[j]] += 1
    skills = (corr + a + c) / (n + 2 * a + c)
    tot = post[used_items(item, n_items, gold)].sum(axis=0)
    priors = (tot + a) / (tot.sum() + k * a)
    return skills, priors


def oc_loglik(skills, k):
    def f(w, y):
        if k == 1:
            return np.zeros(1)
        v = np.full(k, np.log((1 - skills[w]) / (k - 1)))
        v[y] = np.log(skills[w])
        return v
    return f


def oc_em(item, worker, label, n_items, n_workers, k, gold, n_iter, a=0.01, c=CORRECT_PRIOR):
    skills, priors = oc_mstep(item, worker, label, n_items, n_workers, k,
                              mv_posteriors(item, label, n_items, k, gold), gold, a, c)
    post, ll = posterior_pass(item, worker, label, n_items, np.log(priors), oc_loglik(skills, k), gold)
    lls = []
    for _ in range(n_iter):
        skills, priors = oc_mstep(item, worker, label, n_items, n_workers, k, post, gold, a, c)
        post, ll = posterior_pass(item, worker, label, n_items, np.log(priors), oc_loglik(skills, k), gold)
        lls.append(ll)
    return post, skills, priors, np.array(lls)


# --------------------------------------------------------------------------- weighted vote
def weighted_vote(item, worker, label, n_items, k, skills, gold):
    """Shares, aggregate label (gold or first maximum; -1 without annotations)."""
    shares = np.zeros((n_items, k))
    for j in range(item.shape[0]):
        shares[item[j], label[j]] += skills[worker[j]]
    best = np.full(n_items, -1)
    post = np.zeros((n_items, k))
    for i in range(n_items):
        has = (item == i).any()
        if gold[i] >= 0:
            best[i] = gold[i]
        elif has:
            best[i] = int(np.argmax(shares[i]))
        tot = shares[i].sum()
        if gold[i] >= 0:
            post[i, gold[i]] = 1.0
        elif tot > 0:
            post[i] = shares[i] / tot
        else:
            post[i] = 1.0 / k
    return post, best


def agreement(item, worker, label, n_workers, best, old):
    agree = np.zeros(n_workers)
    n = np.zeros(n_workers)
    for j in range(item.shape[0]):
        n[worker[j]] += 1
        agree[worker[j]] += label[j] == best[item[j]]
    return np.where(n > 0, agree / np.maximum(n, 1), old)


def zbs(item, worker, label, n_items, n_workers, k, gold, n_iter, init_skill,
        lr_init=1.0, steps=20, factor=0.5):
    """ZeroBasedSkill (``steps=0`` and ``init_skill=1``: iterated Wawa)."""
    skills = np.full(n_workers, float(init_skill))
    post, best = weighted_vote(item, worker, label, n_items, k, skills, gold)
    for t in range(1, n_iter + 1):
        lr = lr_init if steps <= 0 else lr_init * factor ** (t // steps)
        acc = agreement(item, worker, label, n_workers, best, skills)
        skills = skills + lr * (acc - skills)
        post, best = weighted_vote(item, worker, label, n_items, k, skills, gold)
    return post, skills
