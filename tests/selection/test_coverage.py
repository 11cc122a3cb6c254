from __future__ import annotations

import numpy as np
import pytest

from revdial.selection.coverage import clusters_covered, expected_random_coverage, nearest_centroid


def test_nearest_centroid_and_covered_count_by_hand():
    C = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], np.float32)
    X = np.array([[1, 1], [9, 1], [1, 8], [0, 0]], np.float32)
    labels = nearest_centroid(X, C)
    assert labels.tolist() == [0, 1, 2, 0]
    assert clusters_covered(labels, [0, 3]) == 1 and clusters_covered(labels, [0, 1, 2]) == 3


def test_expected_random_coverage_matches_the_closed_form_and_simulation():
    labels = np.array(
        [0, 0, 0, 1]
    )  # B = 2 of 4: cluster 1 missed with prob C(3,2)/C(4,2) = 1/2, cluster 0 never
    assert expected_random_coverage(labels, 2) == pytest.approx(1.5)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 20, 500)
    sim = np.mean([clusters_covered(labels, rng.choice(500, 15, replace=False)) for _ in range(3000)])
    assert expected_random_coverage(labels, 15) == pytest.approx(sim, rel=0.02)
