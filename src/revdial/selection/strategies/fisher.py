"""Fisher information (D-optimal design): greedily maximise log det(λI + Σ_{s∈S} x_s x_sᵀ)."""

from __future__ import annotations

import numpy as np

from revdial.selection.strategies.base import Progress, Selection, greedy_rounds, strategy


def logdet_gain(X: np.ndarray, selected: np.ndarray, lam: float = 1.0) -> float:
    """log det(I + Σ_{s∈selected} x_s x_sᵀ / λ): the objective without its constant d·log λ (float64)."""
    V = X[np.asarray(selected)].astype(np.float64) / np.sqrt(lam)
    G = (
        V @ V.T if V.shape[0] <= V.shape[1] else V.T @ V
    )  # det(I_d + VᵀV) = det(I_b + VVᵀ): use the smaller side
    return float(np.linalg.slogdet(np.eye(G.shape[0]) + G)[1])


class FisherState:
    """A⁻¹ for A = λI + Σ x xᵀ, kept in float64 and updated by Sherman–Morrison after each pick.

    Picking x with u = A⁻¹x and c = 1 + xᵀu gives (A + xxᵀ)⁻¹ = A⁻¹ − uuᵀ/c, and every other point's quadratic form
    q_i = x_iᵀA⁻¹x_i drops by (x_iᵀu)²/c: gains are refreshed with one matvec, A is never refactored.
    """

    def __init__(self, d: int, lam: float, labelled: np.ndarray | None):
        if lam <= 0:
            raise ValueError(f"lam must be > 0, got {lam}")
        if labelled is None:
            self.Ainv = np.eye(d) / lam
        else:
            L = labelled.astype(np.float64)
            self.Ainv = np.linalg.inv(lam * np.eye(d) + L.T @ L)

    def round(self, cand: np.ndarray, Xc: np.ndarray) -> FisherRound:
        return FisherRound(self, Xc)

    def add(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        u = self.Ainv @ x.astype(np.float64)
        c = 1.0 + float(x @ u)
        self.Ainv -= np.outer(u, u) / c
        return u.astype(np.float32), c


class FisherRound:
    def __init__(self, state: FisherState, Xc: np.ndarray):
        self.state, self.Xc = state, Xc
        # One float32 GEMM per round; the inverse itself stays float64 so 10k rank-one updates do not drift.
        self.q = np.einsum("ij,ij->i", Xc @ state.Ainv.astype(np.float32), Xc)

    def gains(self) -> np.ndarray:
        return np.log1p(np.maximum(self.q, 0.0))

    def pick(self, j: int) -> None:
        u, c = self.state.add(self.Xc[j])
        self.q -= (self.Xc @ u) ** 2 / c


@strategy
def fisher(
    X: np.ndarray,
    budget: int,
    *,
    labelled: np.ndarray | None = None,
    seed: int = 0,
    mode: str = "fast",
    lam: float = 1.0,
    picks_per_round: int = 32,
    sample_size: int = 4096,
    progress: Progress = None,
) -> Selection:
    """D-optimal design: maximise f(S) = log det(λI + Σ_{s∈L∪S} x_s x_sᵀ), L the labelled seeds.

    The gain of adding x_i is f(S∪{i}) − f(S) = log(1 + x_iᵀA⁻¹x_i) with A = λI + Σ_{L∪S} x xᵀ (matrix determinant
    lemma). f is monotone submodular: gains only shrink as S grows. `scores[t]` is the gain of the t-th pick.

    mode="exact": classic greedy; every pick rescans the pool (one N×d matvec per pick via Sherman–Morrison).
    mode="fast": stochastic greedy in rounds (see `base.greedy_rounds`): each round scores `sample_size` random
    candidates with one GEMM against A⁻¹ and makes `picks_per_round` picks with rank-one updates.
    """
    state = FisherState(X.shape[1], lam, labelled)
    return greedy_rounds(
        X,
        budget,
        state.round,
        rng=np.random.default_rng(seed),
        mode=mode,
        picks_per_round=picks_per_round,
        sample_size=sample_size,
        progress=progress,
    )
