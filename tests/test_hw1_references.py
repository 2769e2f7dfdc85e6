"""The grader's own references for hw1, checked against independent computations."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import torch
import torch.nn.functional as F
from helpers import HW1
from scipy import stats

spec = importlib.util.spec_from_file_location("hw1_checks", HW1.checks)
checks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(checks)


def _conv_dependency(shape, masks):
    """Dependencies by propagating one-hot inputs through 0/1 convolutions with the given masks."""
    h, w = shape
    dependency = np.zeros((h * w, h * w), dtype=bool)
    for q in range(h * w):
        x = torch.zeros(1, 1, h, w, dtype=torch.float64)
        x.view(-1)[q] = 1
        for mask in masks:
            k = mask.shape[-1]
            x = (F.conv2d(x, mask.view(1, 1, k, k), padding=k // 2) > 0).double()
        dependency[:, q] = x.view(-1).numpy() > 0
    return dependency


def _mask(k, mask_type):
    mask = torch.ones(k, k, dtype=torch.float64)
    mask[k // 2, k // 2 + (mask_type == "B"):] = 0
    mask[k // 2 + 1:] = 0
    return mask


def test_allowed_by_mask_matches_a_masked_convolution():
    for k, mask_type in itertools.product((3, 5), "AB"):
        assert np.array_equal(checks.allowed_by_mask((6, 5), k, mask_type), _conv_dependency((6, 5), [_mask(k, mask_type)]))


def test_expected_dependency_matches_a_stack_of_convolutions_and_has_the_blind_spot():
    for n_layers, k in [(1, 3), (3, 3), (2, 5)]:
        masks = [_mask(k, "A")] + [_mask(k, "B")] * (n_layers - 1)
        assert np.array_equal(checks.expected_dependency((7, 7), n_layers, k), _conv_dependency((7, 7), masks))
    seen = checks.expected_dependency((9, 9), 2, 3)[4 * 9 + 4].reshape(9, 9)
    assert seen.sum() == 11 and not seen[3, 6], "k=3, L=2 sees 11 earlier pixels; (-1, +2) is in the blind spot"


def test_log_likelihood_is_bernoulli():
    logits, x = torch.randn(5, 1, 3, 3), torch.bernoulli(torch.full((5, 1, 3, 3), 0.5))
    expected = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))
    assert torch.allclose(checks.log_likelihood(logits, x).float(), expected, atol=1e-5)


def test_chi_square_setup_separates_joint_from_factorised_sampling():
    """With the test's sample size, sampling the joint passes and sampling the marginals fails."""
    probabilities = torch.tensor([0.4, 0.05, 0.05, 0.5], dtype=torch.float64)  # two correlated bits
    generator = torch.Generator().manual_seed(0)
    joint = torch.multinomial(probabilities, checks.SAMPLING_DRAWS, replacement=True, generator=generator)
    first, second = probabilities.view(2, 2).sum(1)[1], probabilities.view(2, 2).sum(0)[1]
    independent = (2 * torch.bernoulli(torch.full((checks.SAMPLING_DRAWS,), first.item()), generator=generator)
                   + torch.bernoulli(torch.full((checks.SAMPLING_DRAWS,), second.item()), generator=generator)).long()
    for draws, should_pass in ((joint, True), (independent, False)):
        observed = torch.bincount(draws, minlength=4).numpy()
        p_value = stats.chisquare(observed, probabilities.numpy() * checks.SAMPLING_DRAWS).pvalue
        assert (p_value > checks.SAMPLING_ALPHA) == should_pass


def test_thresholds_have_provenance_for_the_quick_profile():
    record = HW1.thresholds()["likelihood"]["quick"]
    assert record["reference"] <= record["threshold"] and record["better"] == "lower"
    assert set(record["provenance"]) >= {"command", "seeds", "commit", "date", "torch", "machine"}
    assert len(record["values"]) >= 3


def test_paired_batch_agrees_before_each_cut_flips_the_cut_and_unshuffles():
    images = torch.bernoulli(torch.full((50, 1, 4, 5), 0.5), generator=torch.Generator().manual_seed(0))
    inputs, order, cuts = checks.paired_batch(images, torch.Generator().manual_seed(1))
    assert inputs.shape == (100, 1, 4, 5) and sorted(order.tolist()) == list(range(100))
    originals, copies = checks.unpaired(inputs, order)
    assert torch.equal(originals, images)
    flat, copy_flat = originals.flatten(1), copies.flatten(1)
    for n, cut in enumerate(cuts.tolist()):
        assert torch.equal(flat[n, :cut], copy_flat[n, :cut]) and flat[n, cut] != copy_flat[n, cut]
    again = checks.paired_batch(images, torch.Generator().manual_seed(1))[0]
    assert torch.equal(inputs, again), "the same generator gives the same batch (two checks share one probe)"


def test_causality_violation_accepts_a_causal_model_and_names_a_leak():
    images = torch.bernoulli(torch.full((30, 1, 3, 4), 0.5), generator=torch.Generator().manual_seed(0))
    inputs, order, cuts = checks.paired_batch(images, torch.Generator().manual_seed(2))

    def causal(x):  # logit i = number of ones before i
        flat = x.flatten(1)
        return (flat.cumsum(1) - flat).reshape(x.shape)

    def sees_itself(x):
        return causal(x) + 5 * x

    for model, leaks in ((causal, False), (sees_itself, True)):
        logits, copy_logits = checks.unpaired(model(inputs), order)
        violation = checks.causality_violation(logits, copy_logits, cuts, width=4)
        assert (violation is not None) == leaks, violation
    assert "30 of 30 test images" in violation


def test_chi_square_is_defined_when_no_configuration_is_rare():
    """A near-uniform model: every configuration is expected at least 5 times, so nothing is pooled."""
    generator = torch.Generator().manual_seed(0)
    expected = torch.full((64,), checks.SAMPLING_DRAWS / 64, dtype=torch.float64)
    observed = torch.bincount(torch.randint(0, 64, (checks.SAMPLING_DRAWS,), generator=generator), minlength=64).double()
    assert checks.chi_square_p_value(observed, expected) > checks.SAMPLING_ALPHA
    skewed = torch.cat([torch.full((32,), 2.0), torch.full((32,), 4000 / 32 - 2.0)]).double()
    assert 0 <= checks.chi_square_p_value(skewed.flip(0), skewed) < checks.SAMPLING_ALPHA


def test_chi_square_pools_rare_configurations_into_a_bin_expected_at_least_five_times():
    """Two configurations expected 0.02 times each: pooled alone they would fail a correct sampler 1-2 % of the time."""
    probabilities = torch.tensor([0.4, 0.3, 0.2, 0.1, 5e-6, 5e-6], dtype=torch.float64)
    probabilities /= probabilities.sum()
    generator = torch.Generator().manual_seed(0)
    p_values = [checks.chi_square_p_value(torch.bincount(torch.multinomial(probabilities, checks.SAMPLING_DRAWS, True, generator=generator),
                                                         minlength=6).double(), probabilities * checks.SAMPLING_DRAWS) for _ in range(500)]
    assert min(p_values) > checks.SAMPLING_ALPHA
