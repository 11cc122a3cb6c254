"""Selection strategies, checked against brute force on pools small enough to enumerate."""

from __future__ import annotations

import importlib
import itertools

import numpy as np
import pytest

from revdial.selection.strategies import STRATEGIES, fisher, js, kcenter, random
from revdial.selection.strategies.fisher import logdet_gain
from revdial.selection.strategies.js import entropy, js_divergence, soft_assign
from revdial.selection.strategies.kcenter import covering_radius


def blobs(k: int = 6, per: int = 40, dim: int = 8, spread: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, dim)) * 10
    labels = np.repeat(np.arange(k), per)
    X = centers[labels] + spread * rng.standard_normal((k * per, dim))
    return X.astype(np.float32), labels


def brute_force_greedy_logdet(X: np.ndarray, b: int, lam: float = 1.0) -> list[int]:
    chosen: list[int] = []
    for _ in range(b):
        rest = [i for i in range(len(X)) if i not in chosen]
        chosen.append(max(rest, key=lambda i: logdet_gain(X, chosen + [i], lam)))
    return chosen


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_js_covers_every_cluster_before_repeating(mode):
    X, labels = blobs(k=6)
    order = js(X, 6, n_clusters=6, tau=0.5, mode=mode).order
    assert sorted(labels[order]) == list(range(6))


def test_js_first_pick_is_the_max_entropy_seed_and_scores_are_the_divergences():
    X, _ = blobs(k=4, per=20)
    sel = js(X, 5, n_clusters=4, tau=5.0, mode="exact")
    from revdial.selection.strategies.js import kmeans_centroids

    P = soft_assign(X, kmeans_centroids(X, 4, 0), 5.0)
    assert sel.order[0] == int(np.argmax(entropy(P)))
    assert sel.scores[0] == pytest.approx(entropy(P).max(), rel=1e-5)
    m = P[sel.order[:3]].mean(0)
    assert sel.order[3] == int(
        np.argmax(np.where(np.isin(np.arange(len(X)), sel.order[:3]), -1, js_divergence(P, m)))
    )


def test_js_divergence_matches_the_hand_computed_value():
    # p = (1, 0), m = (0, 1): M = (½, ½), JS = H(M) − ½H(p) − ½H(m) = ln 2
    assert js_divergence(np.array([[1.0, 0.0]]), np.array([0.0, 1.0]))[0] == pytest.approx(np.log(2))
    assert js_divergence(np.array([[0.3, 0.7]]), np.array([0.3, 0.7]))[0] == pytest.approx(0.0, abs=1e-12)


def test_fisher_exact_equals_brute_force_greedy_on_a_tiny_pool():
    X = np.random.default_rng(1).standard_normal((25, 5)).astype(np.float32)
    assert fisher(X, 8, mode="exact", lam=0.5).order.tolist() == brute_force_greedy_logdet(X, 8, lam=0.5)


def test_fisher_scores_are_the_logdet_increments():
    X = np.random.default_rng(2).standard_normal((200, 6)).astype(np.float32)
    sel = fisher(X, 10, mode="exact")
    assert sel.scores.sum() == pytest.approx(logdet_gain(X, sel.order), rel=1e-4)
    assert (np.diff(sel.scores) <= 1e-5).all()  # submodular: greedy gains only shrink


def test_fisher_fast_reaches_98_percent_of_exact_greedy():
    X = np.random.default_rng(3).standard_normal((6000, 24)).astype(np.float32)
    exact = logdet_gain(X, fisher(X, 60, mode="exact").order)
    fast = logdet_gain(X, fisher(X, 60, mode="fast", sample_size=800, picks_per_round=8).order)
    assert fast >= 0.98 * exact


@pytest.mark.parametrize("seed", range(4))
def test_fisher_beats_random_on_logdet(seed):
    X = np.random.default_rng(seed).standard_normal((800, 16)).astype(np.float32)
    X *= np.random.default_rng(seed + 10).uniform(0.2, 2.0, size=(800, 1)).astype(np.float32)
    assert logdet_gain(X, fisher(X, 20, seed=seed).order) > logdet_gain(X, random(X, 20, seed=seed).order)


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_kcenter_radius_is_within_twice_the_brute_force_optimum(mode):
    X = np.random.default_rng(4).uniform(size=(14, 2)).astype(np.float32)
    optimum = min(covering_radius(X, np.array(c)) for c in itertools.combinations(range(14), 3))
    assert covering_radius(X, kcenter(X, 3, mode=mode).order) <= 2 * optimum + 1e-6


def test_kcenter_exact_is_farthest_first_from_the_point_nearest_the_mean():
    X = np.random.default_rng(5).standard_normal((60, 3)).astype(np.float32)
    first = int(np.argmin(np.linalg.norm(X - X.mean(0), axis=1)))
    chosen = [first]
    for _ in range(9):
        dist = np.min(np.linalg.norm(X[:, None] - X[chosen][None], axis=2), axis=1)
        chosen.append(int(np.argmax(dist)))
    sel = kcenter(X, 10, mode="exact")
    assert sel.order.tolist() == chosen
    assert sel.scores[1] == pytest.approx(np.linalg.norm(X[chosen[1]] - X[first]), rel=1e-4)


@pytest.mark.parametrize("name", list(STRATEGIES))
@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_prefixes_of_the_order_are_the_selections_at_smaller_budgets(name, mode):
    X, _ = blobs(k=5, per=120, dim=6)  # 600 seeds > the fast sample, so fast mode really samples
    fn = STRATEGIES[name]
    params = {"sample_size": 200, "picks_per_round": 7} if name in ("js", "fisher", "hybrid") else {}
    if name in ("js", "hybrid"):
        params["n_clusters"] = 5
    full = fn(X, 40, mode=mode, seed=3, **params)
    for b in (1, 7, 13, 39):
        small = fn(X, b, mode=mode, seed=3, **params)
        assert small.order.tolist() == full.order[:b].tolist()
        np.testing.assert_allclose(small.scores, full.scores[:b], rtol=1e-5)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_same_seed_same_order_and_every_pick_distinct(name):
    X, _ = blobs(k=5, per=100, dim=6, seed=7)
    a, b = STRATEGIES[name](X, 30, seed=11), STRATEGIES[name](X, 30, seed=11)
    assert a.order.tolist() == b.order.tolist()
    assert len(set(a.order.tolist())) == 30
    assert a.order.dtype == np.int64 and a.scores.dtype == np.float32 and a.scores.shape == (30,)


def test_random_changes_with_the_seed():
    X = np.zeros((100, 2), np.float32) + np.arange(100, dtype=np.float32)[:, None]
    assert random(X, 10, seed=0).order.tolist() != random(X, 10, seed=1).order.tolist()


def test_kcenter_never_picks_a_copy_of_a_labelled_seed_while_others_remain():
    X = np.random.default_rng(8).standard_normal((50, 4)).astype(np.float32)
    labelled_rows = np.arange(0, 50, 5)
    order = kcenter(X, 40, labelled=X[labelled_rows], mode="exact").order
    assert not set(order.tolist()) & set(labelled_rows.tolist())


def test_fisher_selects_around_labelled_seeds():
    # The pool spans e1 and e2; the labelled seeds already cover e1, so the informative direction left is e2.
    X = np.array([[1.0, 0.0]] * 5 + [[0.0, 0.9]] * 1 + [[0.7, 0.0]] * 3, np.float32)
    X += np.random.default_rng(0).normal(scale=1e-3, size=X.shape).astype(np.float32)
    assert fisher(X, 1, mode="exact").order[0] < 5  # alone, the largest norm wins
    labelled = np.array([[1.0, 0.0]] * 20, np.float32)
    assert fisher(X, 1, labelled=labelled, mode="exact").order[0] == 5


def test_js_selects_around_labelled_seeds():
    X, labels = blobs(k=4, per=30)
    labelled = X[labels == 0][:10]
    order = js(X, 3, labelled=labelled, n_clusters=4, tau=0.5, mode="exact").order
    assert 0 not in labels[order]
    assert sorted(labels[order]) == [1, 2, 3]


def test_hybrid_weight_one_is_js_and_zero_is_fisher():
    from revdial.selection.strategies import hybrid

    X, _ = blobs(k=5, per=40, dim=6)
    X *= np.random.default_rng(0).uniform(0.5, 1.5, size=(len(X), 1)).astype(np.float32)
    assert (
        hybrid(X, 12, weight=1.0, n_clusters=5, mode="exact").order.tolist()
        == js(X, 12, n_clusters=5, mode="exact").order.tolist()
    )
    assert (
        hybrid(X, 12, weight=0.0, mode="exact").order.tolist() == fisher(X, 12, mode="exact").order.tolist()
    )


def test_sparse_js_with_every_entry_kept_equals_the_dense_divergence():
    from types import SimpleNamespace

    from revdial.selection.strategies.js import JSRound, SparseJSRound

    rng = np.random.default_rng(0)
    P = rng.random((50, 10)).astype(np.float32) ** 8
    P /= P.sum(1, keepdims=True)
    m = rng.random(10)
    state = SimpleNamespace(count=3, mean=m / m.sum())
    np.testing.assert_allclose(SparseJSRound(state, P, 10).gains(), JSRound(state, P).gains(), atol=1e-5)
    np.testing.assert_allclose(JSRound(state, P).gains(), js_divergence(P, state.mean), atol=1e-5)


def clustered_sphere(n: int, dim: int, clusters: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around random cluster centres (the benchmark's pool, small)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    X = centres[rng.integers(0, clusters, n)] + 0.6 / np.sqrt(dim) * rng.standard_normal((n, dim))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def test_hybrid_fast_keeps_97_percent_of_exact_greedy_on_js_and_on_logdet():
    # 60 clusters seen through 30 centroids at τ = 0.1 leave many seeds spread over more than 8 clusters: the case
    # where cutting p_i to its top 8 entries let the Fisher term decide and fast hybrid kept 0.88-0.91 of exact's JS.
    from revdial.selection.strategies import hybrid
    from revdial.selection.strategies.js import kmeans_centroids, set_divergence

    X = clustered_sphere(2000, 64, 60)
    params = {"n_clusters": 30, "tau": 0.1, "sample_size": 400, "picks_per_round": 8}
    exact = hybrid(X, 100, mode="exact", **params).order
    fast = hybrid(X, 100, mode="fast", **params).order
    centroids = kmeans_centroids(X, 30, 0)  # the ones hybrid fits (same K, seed)

    def js_objective(order):
        return set_divergence(soft_assign(X[order], centroids, 0.1))

    assert js_objective(fast) >= 0.97 * js_objective(exact)
    assert logdet_gain(X, fast) >= 0.97 * logdet_gain(X, exact)


# --- float16 memory-mapped pools ---------------------------------------------------------------------------------
def half_pool(tmp_path, n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(a float16 .npy opened as a read-only memmap, the same values as in-memory float32)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((20, dim))
    X = (centers[rng.integers(0, 20, n)] + 0.3 * rng.standard_normal((n, dim))).astype(np.float16)
    np.save(tmp_path / "pool.npy", X)
    return np.load(tmp_path / "pool.npy", mmap_mode="r"), X.astype(np.float32)


CASES = [
    ("random", "fast", {}),
    ("js", "fast", {"n_clusters": 10}),
    ("js", "exact", {"n_clusters": 10}),
    ("fisher", "fast", {"picks_per_round": 4, "sample_size": 64}),
    ("fisher", "exact", {}),
    ("kcenter", "fast", {}),
    ("kcenter", "fast", {"dim": 6}),  # the random-projection path of pools above 200k seeds
    ("kcenter", "exact", {}),
    ("hybrid", "fast", {"n_clusters": 10, "picks_per_round": 4, "sample_size": 64}),
    ("hybrid", "exact", {"n_clusters": 10}),
]


@pytest.mark.parametrize(("name", "mode", "params"), CASES)
def test_a_float16_memmap_selects_what_the_same_float32_values_select(
    tmp_path, monkeypatch, name, mode, params
):
    base, kc = (importlib.import_module(f"revdial.selection.strategies.{m}") for m in ("base", "kcenter"))

    # small blocks and tiles, so the pool is read in many pieces and the last one is partial
    for module in (base, kc):
        monkeypatch.setattr(module, "CHUNK", 97)
    monkeypatch.setattr(kc, "TILE", 2048)
    half, full = half_pool(tmp_path, 700, 16)
    a = STRATEGIES[name](half, 60, seed=3, mode=mode, **params)
    b = STRATEGIES[name](full, 60, seed=3, mode=mode, **params)
    np.testing.assert_array_equal(a.order, b.order)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_tiled_distances_equal_the_direct_ones(monkeypatch):
    kc = importlib.import_module("revdial.selection.strategies.kcenter")
    monkeypatch.setattr(kc, "TILE", 1000)  # several row tiles and several centre tiles
    rng = np.random.default_rng(0)
    Y, C = rng.standard_normal((1234, 7)).astype(np.float32), rng.standard_normal((300, 7)).astype(np.float32)
    d2 = kc.min_sq_dist(Y, kc.sq_norms(Y), C)
    direct = ((Y[:, None, :].astype(np.float64) - C[None]) ** 2).sum(-1).min(1)
    np.testing.assert_allclose(d2, direct, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["random", "js", "fisher", "kcenter", "hybrid"])
def test_a_float16_memmap_is_never_copied_whole_as_float32(tmp_path, name):
    import tracemalloc

    half, _ = half_pool(tmp_path, 200_000, 48)
    whole = half.shape[0] * half.shape[1] * 4
    tracemalloc.start()
    try:
        STRATEGIES[name](half, 40, seed=0, mode="fast", n_clusters=10) if name in (
            "js",
            "hybrid",
        ) else STRATEGIES[name](half, 40, seed=0, mode="fast")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.8 * whole, (
        f"{name}: peak {peak / 2**20:.0f} MiB vs {whole / 2**20:.0f} MiB for a float32 copy"
    )


def test_distinct_rows_finds_every_copy_across_blocks():
    from revdial.selection.strategies.base import distinct_rows

    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 16)).astype(np.float16)
    src, dst = rng.choice(3000, size=(2, 60), replace=False)
    X[dst] = X[src]  # copies at any offset within the 1024-row blocks, some before their original
    X[5] = -0.0 * X[5]  # all zeros, one row signed -0.0
    X[6] = 0.0
    keep, copies = distinct_rows(X)
    _, first = np.unique(X.astype(np.float32), axis=0, return_index=True)  # -0.0 == 0.0 here too
    np.testing.assert_array_equal(keep, np.sort(first))
    np.testing.assert_array_equal(copies, np.setdiff1d(np.arange(3000), first))


@pytest.mark.parametrize("labelled", [False, True])
def test_kcenter_lazy_distances_pick_what_full_updates_pick(monkeypatch, labelled):
    kc = importlib.import_module("revdial.selection.strategies.kcenter")
    X, _ = blobs(k=30, per=100, dim=12, spread=2.0)
    lab = X[:7] + 0.5 if labelled else None
    full = kcenter(X, 700, labelled=lab, picks_per_pass=64, mode="fast")
    monkeypatch.setattr(kc, "PRUNE_MIN", 1)  # every pass's update is the lazy one
    calls = []
    real = kc.LazyDistances.add
    monkeypatch.setattr(kc.LazyDistances, "add", lambda self, C, m: calls.append(m) or real(self, C, m))
    lazy = kcenter(X, 700, labelled=lab, picks_per_pass=64, mode="fast")
    assert len(calls) == 10  # 700 picks, 64 a pass: every update but the last pass's
    np.testing.assert_array_equal(lazy.order, full.order)
    # the same distances, up to float32 rounding: BLAS sums in another order on some CPUs (AMD EPYC: 1.7e-6 relative)
    np.testing.assert_allclose(lazy.scores, full.scores, rtol=1e-5)
