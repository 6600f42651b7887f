"""The scan's retrieval metrics in torch, for the scan anchor (`scan_transformers.py --metrics`),
so that the benchmark compares equal work with `lexalign scan`: per hidden state and space (raw,
centred): pair and shuffled cosines, P@1/5/10 with NN and CSLS source->target, P@1 NN and CSLS
target->source, and 95 % percentile bootstrap intervals (1000 resamples over sources) of raw and
centred CSLS P@1 and of the centred mean pair cosine. In f64 like lexalign's metrics, batched over
hidden states (one bmm over a [L, n, d] stack per space). Tie rule as lexalign-metrics: a lower
candidate index wins an exact tie.
"""
import torch


def lexicon(sources, targets):
    """Distinct sources and targets in first-appearance order and the (source, target) index pairs."""
    def index(words):
        at, out = {}, []
        for w in words:
            out.append(at.setdefault(w, len(at)))
        return len(at), out
    ns, si = index(sources)
    nc, ti = index(targets)
    return ns, nc, torch.tensor(si), torch.tensor(ti)


def unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def ranks(scores, q, g, n_queries):
    """Best gold rank per query: scores [L, Q, N], gold pairs (query q[p], item g[p])."""
    s = scores[:, q, :]                                   # [L, P, N]
    sg = s.gather(2, g.view(1, -1, 1).expand(s.shape[0], -1, 1))
    lower = (torch.arange(s.shape[2]).view(1, 1, -1) < g.view(1, -1, 1))
    r = ((s > sg) | ((s == sg) & lower)).sum(2)           # [L, P]
    out = torch.full((s.shape[0], n_queries), s.shape[2], dtype=r.dtype)
    return out.scatter_reduce(1, q.view(1, -1).expand_as(r), r, reduce="amin")


def space(src, cand, si, ti, ns, nc, partner, k=10):
    """Metrics of one space for every hidden state; src [L, ns, d], cand [L, nc, d] unit rows."""
    sims = torch.bmm(src, cand.transpose(1, 2))           # [L, ns, nc]
    pair = sims[:, si, ti]
    shuffled = sims[:, si, ti[partner]]
    r_t = sims.topk(min(k, nc), dim=2).values.mean(2)     # [L, ns]
    r_s = sims.topk(min(k, ns), dim=1).values.mean(1)     # [L, nc]
    s2t_nn = ranks(sims, si, ti, ns)
    s2t_csls = ranks(2 * sims - r_s[:, None, :], si, ti, ns)
    st = sims.transpose(1, 2)
    t2s_nn = ranks(st, ti, si, nc)
    t2s_csls = ranks(2 * st - r_t[:, None, :], ti, si, nc)
    p = lambda r, at: (r < at).double().mean(1)
    out = {"pairs_mean": pair.mean(1), "shuffled_mean": shuffled.mean(1)}
    for at in (1, 5, 10):
        out[f"p{at}_nn"], out[f"p{at}_csls"] = p(s2t_nn, at), p(s2t_csls, at)
    out["t2s_p1_nn"], out["t2s_p1_csls"] = p(t2s_nn, 1), p(t2s_csls, 1)
    return out, pair, (s2t_csls < 1).double()


def bootstrap(stats, n, b=1000, seed=0):
    """95 % percentile intervals of ratio statistics (num [L, n], den [L, n]) over resampled sources."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, n, (b, n), generator=g)
    out = []
    for num, den in stats:
        reps = num[:, idx].sum(2) / den[:, idx].sum(2)    # [L, b]
        out.append(torch.quantile(reps, torch.tensor([0.025, 0.975], dtype=reps.dtype), dim=1).T)
    return out


def metrics(layers, sources, targets, seed=0):
    """layers: per hidden state, (source rows [n_pairs... distinct], target rows) as [L, ns, d], [L, nc, d]."""
    src, cand = layers
    ns, nc, si, ti = lexicon(sources, targets)
    n = si.numel()
    g = torch.Generator().manual_seed(seed)
    partner = (torch.arange(n) + torch.randint(1, n, (n,), generator=g)) % n
    src, cand = unit(src.double()), unit(cand.double())
    raw, _, raw_hit = space(src, cand, si, ti, ns, nc, partner)
    csrc, ccand = unit(src - src.mean(1, keepdim=True)), unit(cand - cand.mean(1, keepdim=True))
    cen, cen_pair, cen_hit = space(csrc, ccand, si, ti, ns, nc, partner)
    cos_sum = torch.zeros(src.shape[0], ns, dtype=torch.float64).index_add_(1, si, cen_pair)
    cos_n = torch.zeros(ns, dtype=torch.float64).index_add_(0, si, torch.ones(n, dtype=torch.float64))
    ones = torch.ones_like(raw_hit)
    cis = bootstrap([(raw_hit, ones), (cen_hit, ones), (cos_sum, cos_n.expand_as(cos_sum))], ns, seed=seed)
    out = dict(raw)
    out.update({f"centered_{k}": v for k, v in cen.items()})
    out["p1_csls_ci"], out["centered_p1_csls_ci"], out["centered_mean_ci"] = cis
    return out


def distinct_rows(vectors, words):
    """Rows of `vectors` ([L, len(words), d]) for the distinct words, in first-appearance order."""
    first = {}
    for i, w in enumerate(words):
        first.setdefault(w, i)
    return vectors[:, list(first.values()), :]
