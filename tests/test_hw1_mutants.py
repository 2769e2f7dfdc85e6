"""Does every hw1 check fail on a planted bug, with a message that points at it?

Each mutant is the reference solution with one bug planted in an answer cell; it is graded on the
check it targets only (the other checks may fail too, but are not run, to keep the suite fast).
"""

from __future__ import annotations

import json

import pytest
from helpers import HW1, derive_submission, replace, run_grader

MUTANTS = {
    # name: (check it targets, answer cell, planted bug, words the message must contain)
    "type_a_sees_centre": ("masked_conv", "answer_masked_conv",
                           replace('centre + (mask_type == "B"):] = 0', "centre + 1:] = 0"), "which the type-A mask must hide"),
    "type_b_hides_centre": ("masked_conv", "answer_masked_conv",
                            replace('centre + (mask_type == "B"):] = 0', "centre:] = 0"), "which the type-B mask must let through"),
    "mask_row_off_by_one": ("masked_conv", "answer_masked_conv",
                            replace("mask[:, :, centre + 1:, :] = 0", "mask[:, :, centre + 2:, :] = 0"), "which the type-A mask must hide"),
    "first_layer_type_b": ("autoregressive", "answer_pixelcnn",
                           replace('MaskedConv2d(1, h, k, "A")', 'MaskedConv2d(1, h, k, "B")'), "not before it in raster order"),
    "all_layers_type_a": ("autoregressive", "answer_pixelcnn",
                          replace('MaskedConv2d(h, h, k, "B")', 'MaskedConv2d(h, h, k, "A")'), "receptive field differs"),
    "log_prob_per_pixel": ("shapes", "answer_pixelcnn",
                           replace("return log_likelihood.flatten(1).sum(1)", "return log_likelihood"), "should have shape (4,)"),
    "missing_log_sigmoid": ("normalisation", "answer_pixelcnn",
                            replace('log_likelihood = -F.binary_cross_entropy_with_logits(self(x), x, reduction="none")',
                                    "log_likelihood = x * self(x)"), "sum to"),
    "loss_summed_not_averaged": ("loss", "answer_pixelcnn",
                                 replace("return -self.log_prob(x).mean() / x[0].numel()", "return -self.log_prob(x).mean()"),
                                 "summed over pixels instead of averaged"),
    "sampling_without_feedback": ("sampling", "answer_pixelcnn",
                                  replace("logits = self(x)[:, :, i, j]", "logits = self(torch.zeros_like(x))[:, :, i, j]"),
                                  "feeding each sampled pixel back"),
    "model_ignores_context": ("likelihood", "answer_pixelcnn",
                              replace("return self.net(2 * x - 1)", "return self.net(0 * x - 1)"), "nats per image; at most"),
    "sample_replays_training_set": ("sample_quality", "answer_pixelcnn",
                                    replace("        return x\n", "        return dgm.binarize(dgm.digits('train').images[:n]).to(x.device)\n"),
                                    "near-copies of training images (pixels)"),
    "sample_returns_noise": ("sample_quality", "answer_pixelcnn",
                             replace("        return x\n", "        return torch.bernoulli(torch.full_like(x, 0.5))\n"), "FID against the test set"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_check_catches_planted_bug(name, tmp_path):
    check, cell, bug, expected_words = MUTANTS[name]
    derive_submission(HW1.source_notebook, tmp_path / "submissions" / f"{name}.ipynb", {cell: bug})
    done = run_grader("grade", "hw1", str(tmp_path / "submissions"), "--out", str(tmp_path / "out"),
                      "--checks", check, "--jobs", "1", "--quiet", "--no-gradebook")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "out" / name / "result.json").read_text())
    [outcome] = result["checks"]
    assert outcome["status"] == "fail", f"{name}: check {check} did not fail: {outcome}"
    assert expected_words in outcome["message"], f"{name}: message does not point at the bug: {outcome['message']}"


def test_every_autograded_check_has_a_mutant():
    from autograder.notebook import grade_cells, read_notebook

    autograded = {c.grade_id for c in grade_cells(read_notebook(HW1.source_notebook)) if c.autograded}
    assert autograded == {check for check, *_ in MUTANTS.values()}
