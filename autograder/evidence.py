"""Evidence the checks of autoregressive models build and judge in the grader's process.

An autoregressive model's outputs at a position may depend only on earlier positions in raster
order. The grader proves it on the very forward passes whose numbers it judges: it pairs each input
with a copy that agrees with it before a secret random cut and differs at the cut (later positions
redrawn), shuffles the pairs into one batch under a secret permutation, and afterwards checks that
the outputs agree up to and including each cut. :func:`chi_square_p_value` tests a sampler's draws
against the model's own probabilities.
"""

from __future__ import annotations

import torch
from scipy import stats

PAIR_TOLERANCE = 1e-4
"""Default largest change ``|a - b| / (1 + |a|)`` of an output between an input and its copy at or
before their cut that still counts as "the same" (arithmetic in different batch positions differs in
the last bits; a leak changes an output by O(1))."""


def paired_batch(values: torch.Tensor, n_values: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each input and a copy that agrees with it before a random cut, shuffled.

    ``values`` holds integers in ``{0, ..., n_values - 1}`` (binary pixels, grey levels, codes) in any
    dtype, shape ``(N, *grid)``. The copy of input n changes its value at raster position ``cuts[n]``
    to another one and redraws every later value uniformly. Returns ``inputs (2N, *grid)`` (the dtype
    of ``values``), ``order (2N,)`` (the shuffle, to undo with :func:`unpaired`) and ``cuts (N,)``.
    """
    flat = values.flatten(1).long()  # (N, P)
    n, positions = flat.shape
    cuts = torch.randint(0, positions, (n,), generator=generator)
    redrawn = torch.randint(0, n_values, flat.shape, generator=generator)
    copies = torch.where(torch.arange(positions) > cuts[:, None], redrawn, flat)
    shift = torch.randint(1, n_values, (n,), generator=generator)
    copies[torch.arange(n), cuts] = (flat[torch.arange(n), cuts] + shift) % n_values
    order = torch.randperm(2 * n, generator=generator)
    return torch.cat([flat, copies])[order].reshape(2 * n, *values.shape[1:]).to(values.dtype), order, cuts


def unpaired(outputs: torch.Tensor, order: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Undo the shuffle of :func:`paired_batch`: outputs of the inputs, outputs of their copies."""
    restored = torch.empty_like(outputs)
    restored[order] = outputs
    return restored.chunk(2)


def causality_violation(outputs: torch.Tensor, copy_outputs: torch.Tensor, cuts: torch.Tensor,
                        tolerance: float = PAIR_TOLERANCE) -> tuple[int, int, int, int] | None:
    """The first place where an output differs between an input and its copy at or before their cut.

    Shapes: ``outputs``, ``copy_outputs`` ``(N, C, *grid)`` (C outputs per position, e.g. logits), ``cuts (N,)``.
    Returns ``(pair, position, cut, pairs affected)`` with raster positions, or ``None`` when there is none.
    """
    a, b = outputs.double().flatten(2), copy_outputs.double().flatten(2)  # (N, C, P)
    change = ((a - b).abs() / (1 + a.abs())).amax(1)  # (N, P); "not <=" below also catches NaN
    up_to_cut = torch.arange(change.shape[1]) <= cuts[:, None]
    bad = torch.argwhere(~(change <= tolerance) & up_to_cut)
    if not len(bad):
        return None
    pair, position = bad[0].tolist()
    return pair, position, int(cuts[pair]), len(bad[:, 0].unique())


def chi_square_p_value(observed: torch.Tensor, expected: torch.Tensor) -> float:
    """Pearson's chi-square test of counts against expected counts (float64, one bin per configuration).

    Configurations expected fewer than 5 times are pooled into one bin, and the least expected of the
    others join it until it too is expected at least 5 times, so that the chi-square approximation
    holds for every bin (a pooled bin expected 0.02 times would fail a correct sampler 1-2 % of the time).
    """
    order = expected.argsort()
    ascending = expected[order]
    pooled = (ascending < 5) | (ascending.cumsum(0) - ascending < 5)  # the rare ones, then the smallest until 5 in all
    if pooled.any() and pooled.all():
        raise ValueError("fewer than 5 expected counts in all: too few draws for a chi-square test")
    observed_bins, expected_bins = [observed[order][~pooled]], [expected[order][~pooled]]
    if pooled.any():
        observed_bins.append(observed[order][pooled].sum(0, keepdim=True))
        expected_bins.append(expected[order][pooled].sum(0, keepdim=True))
    observed_pooled, expected_pooled = torch.cat(observed_bins).numpy(), torch.cat(expected_bins).numpy()
    expected_pooled = expected_pooled * observed_pooled.sum() / expected_pooled.sum()
    return float(stats.chisquare(observed_pooled, expected_pooled).pvalue)
