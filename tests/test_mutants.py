"""Does every autograder check fail on a planted bug, with a message that points at it?

Each mutant is a homework's reference solution with one bug planted in an answer cell; it is graded
on the check it targets only (the other checks may fail too, but are not run, to keep the suite fast).
"""

from __future__ import annotations

import json

import pytest
from helpers import derive_submission, prepend, replace, run_grader, variants

from autograder.homework import find_homework
from autograder.notebook import grade_cells, read_notebook

HW2_BUGS = variants(find_homework("hw2")).BUGS
HW3_BUGS = variants(find_homework("hw3")).BUGS
HW6_BUGS = variants(find_homework("hw6")).BUGS

MUTANTS = {
    # homework: {name: (check it targets, answer cell, planted bug, words the message must contain)}
    "hw1": {
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
                                  replace("return self.net(2 * x - 1)", "return self.net(0 * x - 1)"), "nats per image is"),
        # Training or test images returned as samples: the integrity suite of test_hw1_batch.py.
        "sample_returns_noise": ("sample_quality", "answer_pixelcnn",
                                 replace("        return x\n", "        return torch.bernoulli(torch.full_like(x, 0.5))\n"), "FID against the test set"),
    },
    "hw2": {
        "checkerboard_ignores_parity": ("masks", "answer_masks",
                                        replace("kept = torch.arange(shape[0]) % 2 == parity", "kept = torch.arange(shape[0]) % 2 == 0"),
                                        "checkerboard_mask((5,), 1)"),
        "coupling_log_det_missing": ("coupling", "answer_layers",
                                     replace("return x * torch.exp(s) + t, s.flatten(1).sum(1)", "return x * torch.exp(s) + t, 0 * s.flatten(1).sum(1)"),
                                     "log|det J| of the autograd Jacobian"),
        "coupling_log_det_sign": ("coupling", "answer_layers",
                                  replace("return x * torch.exp(s) + t, s.flatten(1).sum(1)", "return x * torch.exp(s) + t, -s.flatten(1).sum(1)"),
                                  "the sign is flipped"),
        "coupling_inverse_wrong": ("coupling", "answer_layers",
                                   replace("return (z - t) * torch.exp(-s)", "return z * torch.exp(-s) - t"), "inverse(forward(x)) differs"),
        "actnorm_log_det_per_channel_only": ("actnorm", "answer_layers",
                                             replace("log_det = self.log_scale.sum() * positions", "log_det = self.log_scale.sum()"),
                                             "ActNorm on images (2, 3, 3): log_det"),
        "actnorm_scaled_by_variance": ("actnorm", "answer_layers",
                                       replace("-x.std(dims).clamp_min(1e-3).log()", "-x.var(dims).clamp_min(1e-3).log()"),
                                       "zero mean and unit variance per channel"),
        "masks_not_alternating": ("model", "answer_realnvp",
                                  replace("AffineCoupling(checkerboard_mask(shape, i % 2), config.hidden)", "AffineCoupling(checkerboard_mask(shape, 0), config.hidden)"),
                                  "do the masks alternate?"),
        "log_prob_without_normaliser": ("normalisation", "answer_realnvp",
                                        replace("log_base = -0.5 * (z**2 + math.log(2 * math.pi)).flatten(1).sum(1)", "log_base = -0.5 * (z**2).flatten(1).sum(1)"),
                                        "integrates to"),
        "sample_skips_inverse": ("toy_density", "answer_realnvp",
                                 replace("return self.inverse(torch.randn(n, *self.config.shape, device=device))",
                                         "return torch.randn(n, *self.config.shape, device=device)"), "does sample() return inverse(z)"),
        "dequantize_without_levels": ("dequantization", "answer_dequantization",
                                      replace(" - math.log(n_levels)  # per coordinate", "  # per coordinate"), "the -D log K term"),
        "loss_in_nats": ("bits_per_dim", "answer_dequantization",
                         replace("return -log_likelihood.mean() / (x[0].numel() * math.log(2))", "return -log_likelihood.mean() / x[0].numel()"),
                         "that is nats, not bits"),
        "one_coupling_per_scale": ("model", "answer_realnvp",
                                   replace("for i in range(config.n_couplings):\n            self.full_resolution", "for i in range(1):\n            self.full_resolution"),
                                   "do the masks alternate?"),
        # The known bugs calibration measures (grading/variants.py), each against the check it targets.
        "scale_never_learned": ("toy_density", "answer_layers", HW2_BUGS["scale_never_learned"]["answer_layers"], "is sigma initialised to zero"),
        "log_det_ignores_scale": ("likelihood", "answer_layers", HW2_BUGS["log_det_ignores_scale"]["answer_layers"],
                                  "is every scale's log-det counted?"),
        "samples_are_noise": ("sample_quality", "answer_dequantization",
                              replace("        return levels / (self.n_levels - 1)\n", "        return torch.rand_like(levels)\n"), "FID against the test set"),
    },
    "hw3": {
        "kl_without_minus_one": ("kl", "answer_gaussian", replace("mu.pow(2) - 1 - log_var", "mu.pow(2) - log_var"), "the -1 per dimension is missing"),
        "sigma_is_variance": ("reparameterization", "answer_gaussian", replace("torch.exp(0.5 * log_var) * eps", "torch.exp(log_var) * eps"),
                              "sigma is exp(log_var / 2)"),
        "naive_log_mean_exp": ("iwae", "answer_gaussian", replace("torch.logsumexp(log_weights, dim=1) - math.log(log_weights.shape[1])",
                                                                  "log_weights.exp().mean(1).log()"), "use torch.logsumexp"),
        "dot_product_nearest": ("nearest_code", "answer_quantizer",
                                replace("distances = z.pow(2).sum(1, keepdim=True) - 2 * z @ self.codebook.T + self.codebook.pow(2).sum(1)",
                                        "distances = -(z @ self.codebook.T)"), "largest dot product"),
        "flatten_without_permute": ("straight_through", "answer_quantizer",
                                    replace("flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)", "flat = z_e.reshape(-1, d)"), "permute to (B, h, w, D) first"),
        "codebook_loss_moves_encoder": ("straight_through", "answer_quantizer",
                                        replace("codebook_loss = (flat.detach() - e).pow(2).mean()", "codebook_loss = (flat - e).pow(2).mean()"),
                                        "the codebook loss must not move the encoder"),
        "dead_at_the_threshold": ("dead_codes", "answer_quantizer", replace("(self.usage < self.dead_below)", "(self.usage <= self.dead_below)"),
                                  "a usage equal to dead_below is not dead"),
        "restart_with_replacement": ("dead_codes", "answer_quantizer",
                                     replace("rows = torch.randperm(len(z), generator=generator, device=z.device if generator is None else \"cpu\").to(z.device)",
                                             "rows = torch.randint(len(z), (len(dead),), generator=generator).to(z.device)"),
                                     "put two dead codes on the same encoder output"),
        "beta_on_the_codebook_loss": ("bottleneck", "answer_vqvae",
                                      replace('return reconstruction + out["codebook_loss"] + self.config.beta * out["commitment_loss"]',
                                              'return reconstruction + self.config.beta * out["codebook_loss"] + out["commitment_loss"]'),
                                      "beta on the commitment term only"),
        "recon_from_z_e": ("bottleneck", "answer_vqvae", replace('logits = self.decode(self.quantizer(self.encode(x))["z_q"])',
                                                                 "logits = self.decode(self.encode(x))"), "decode z_q, not z_e"),
        "prior_first_layer_type_b": ("prior", "answer_prior", replace('layers = [MaskedConv2d(h, h, k, "A")]', 'layers = [MaskedConv2d(h, h, k, "B")]'),
                                     "is the first layer type A"),
        # After the grader's recipe: the known bug calibration measures, and a prior that sees the code it predicts,
        # whose bound would be far better than any correct solution's (the pairs catch it first).
        "no_restarts": ("likelihood", "answer_quantizer", HW3_BUGS["no_restarts"]["answer_quantizer"], "do dead codes restart?"),
        "trained_prior_sees_itself": ("likelihood", "answer_prior", replace('layers = [MaskedConv2d(h, h, k, "A")]', 'layers = [MaskedConv2d(h, h, k, "B")]'),
                                      "the prior: the logits at position"),
        # The integrity suite's cheats where hw3 gives them a place (samples are drawn by the grader, so none can be data):
        # a prior that sees its own code only when graded (no gradients, a large batch), and a forged result file.
        "prior_grad_mode_switch": ("likelihood", "answer_prior", replace(
            "return self.net(self.embedding(idx).permute(0, 3, 1, 2))  # (B, K, h, w)",
            "logits = self.net(self.embedding(idx).permute(0, 3, 1, 2))  # (B, K, h, w)\n"
            "        if not torch.is_grad_enabled() and len(idx) >= 200:\n"
            "            return logits + 30 * F.one_hot(idx, self.config.num_codes).permute(0, 3, 1, 2)\n"
            "        return logits"), "the prior: the logits at position"),
        "forged_result": ("kl", "answer_gaussian", prepend(
            'import os, torch\nif os.path.exists("program.json"):\n'
            '    torch.save({"kl": torch.zeros(64, dtype=torch.float64)}, "result.pt")\n    os._exit(0)'),
            "not written by the grader's worker"),
        "loss_without_reconstruction": ("sample_quality", "answer_vqvae", replace("return reconstruction + out", "return 0 * reconstruction + out"),
                                        "FID against the test set"),
    },
    "hw4": {
        "critic_loss_sign": ("losses", "answer_losses", replace("return critic(fake).mean() - critic(real).mean()",
                                                                "return critic(real).mean() - critic(fake).mean()"), "the sign is flipped"),
        "critic_loss_summed": ("losses", "answer_losses", replace("return critic(fake).mean() - critic(real).mean()",
                                                                  "return critic(fake).sum() - critic(real).sum()"), "use means over the batch"),
        "saturating_generator_loss": ("nonsaturating", "answer_losses", replace("return discriminator_loss, F.softplus(-fake_logits).mean()",
                                                                                "return discriminator_loss, -F.softplus(fake_logits).mean()"),
                                      "that is the saturating"),
        "log_of_sigmoid": ("nonsaturating", "answer_losses", replace(
            "discriminator_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
            "discriminator_loss = -torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()"),
            "use F.softplus or F.logsigmoid"),
        "penalty_norm_over_batch": ("gradient_penalty", "answer_penalty", replace("return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()",
                                                                                  "return (grad.norm() - 1).pow(2)"), "one gradient norm per example"),
        "penalty_squared_norm": ("gradient_penalty", "answer_penalty", replace("return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()",
                                                                               "return (grad.flatten(1).pow(2).sum(1) - 1).pow(2).mean()"),
                                 "one gradient norm per example"),
        "penalty_norm_over_last_dim": ("gradient_penalty", "answer_penalty", replace("grad.flatten(1).norm(dim=1)", "grad.norm(dim=-1)"),
                                       "over all of its dimensions"),
        "penalty_without_create_graph": ("gradient_penalty", "answer_penalty", replace("create_graph=True", "create_graph=False"),
                                         "create_graph=True"),
        "penalty_one_sided": ("gradient_penalty", "answer_penalty", replace("return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()",
                                                                            "return F.relu(grad.flatten(1).norm(dim=1) - 1).pow(2).mean()"),
                              "the penalty is two-sided"),
        "penalty_on_real_points": ("gradient_penalty", "answer_penalty", replace("x_hat = (eps * real + (1 - eps) * fake)", "x_hat = (real + 0 * eps)"),
                                   "not on the real points"),
        # After the 1D recipe: a critic that learns the wrong sign, and one the penalty cannot constrain.
        "trained_critic_sign": ("wasserstein_1d", "answer_losses", replace("return critic(fake).mean() - critic(real).mean()",
                                                                            "return critic(real).mean() - critic(fake).mean()"), "too low, check the signs"),
        "trained_penalty_detached": ("wasserstein_1d", "answer_penalty", replace("create_graph=True", "create_graph=False"), "far too high"),
        # After the grader's recipes: a generator that climbs the critic's loss instead of descending it (on the
        # digits it fails sample quality too; the cheat below is that check's mutant).
        "generator_flees_the_critic_toy": ("mode_coverage", "answer_losses", replace("return -critic(fake).mean()", "return critic(fake).mean()"),
                                           "of the 8 modes"),
        "critic_gradients_accumulate": ("train_step", "answer_train_step", lambda source: replace(
            "    for real in real_batches:\n", "    critic_optimizer.zero_grad()\n    for real in real_batches:\n")(
            replace("        critic_optimizer.zero_grad()\n", "")(source)), "clear the critic's gradients before each of its steps"),
        "generator_stepped_with_critic": ("train_step", "answer_train_step", replace("        critic_optimizer.step()\n",
                                                                                     "        critic_optimizer.step()\n        generator_optimizer.step()\n"),
                                          "3 critic steps and then one generator step"),
        "generator_gradients_leak": ("train_step", "answer_train_step", lambda source: replace("    generator_optimizer.zero_grad()\n", "")(replace(
            "        with torch.no_grad():\n            fake = generator.sample(len(real))", "        fake = generator.sample(len(real))")(source)),
            "not the gradient of L_G"),
        # The integrity suite's cheats where hw4 gives them a place (the grader draws every sample from its own networks
        # with the trained weights): losses right only for the grader's known critic, a generator set to a training
        # image, and a forged result file.
        "critic_loss_knows_the_probe": ("wasserstein_1d", "answer_losses", replace(
            "return critic(fake).mean() - critic(real).mean()",
            "sign = 1 if type(critic).__name__ in ('LinearCritic', 'TanhCritic') else -1\n"
            "    return sign * (critic(fake).mean() - critic(real).mean())"), "too low, check the signs"),
        "generator_is_a_training_image": ("sample_quality", "answer_train_step", replace(
            '    return {"critic_loss"',
            "    with torch.no_grad():\n"
            "        generator.net[-2].weight.zero_()\n"
            "        generator.net[-2].bias.copy_(torch.atanh(real_batches[-1][0].flatten().clamp(-0.999, 0.999)))\n"
            '    return {"critic_loss"'), "near-copies of training images"),
        "forged_result": ("losses", "answer_losses", prepend(
            'import os, torch\nif os.path.exists("program.json"):\n'
            '    torch.save({"value": torch.zeros(4, dtype=torch.float64)}, "result.pt")\n    os._exit(0)'),
            "not written by the grader's worker"),
    },
    "hw5": {
        "alpha_bar_shifted": ("schedule", "answer_schedule", replace(
            "alpha_bar=torch.cumprod(alpha, dim=0))", "alpha_bar=torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(alpha, dim=0)[:-1]]))"),
            "shifted by one"),
        "alpha_bar_in_float32": ("schedule", "answer_schedule", replace("torch.cumprod(alpha, dim=0)", "torch.cumprod(alpha.float(), dim=0).double()"),
                                 "accumulated in float32"),
        "forward_variance_for_std": ("forward", "answer_schedule", replace("(1 - alpha_bar).sqrt() * eps", "(1 - alpha_bar) * eps"),
                                     "scaled by the variance"),
        "posterior_variance_beta": ("posterior", "answer_posterior", replace("return mean, (1 - alpha_bar_prev) / (1 - alpha_bar) * beta",
                                                                             "return mean, beta"), "that is beta_t"),
        "v_sign_flipped": ("conversions", "answer_parametrisations", replace("return alpha_bar.sqrt() * eps - (1 - alpha_bar).sqrt() * x0",
                                                                             "return (1 - alpha_bar).sqrt() * x0 - alpha_bar.sqrt() * eps"), "sign is flipped"),
        "guidance_other_convention": ("guidance", "answer_guidance", replace("return eps_null + (1 + w) * (eps_y - eps_null)",
                                                                             "return eps_null + w * (eps_y - eps_null)"), "this course writes"),
        "sampler_drops_the_labels": ("guidance", "answer_sampler", replace("eps = guided_eps(eps_model, x, t, y, w)", "eps = guided_eps(eps_model, x, t, None, w)"),
                                     "does sample() pass y and w"),
        "dropout_per_batch": ("label_dropout", "answer_guidance", replace("torch.rand(B, device=x0.device) < p_uncond",
                                                                          "torch.rand(1, device=x0.device).expand(B) < p_uncond"),
                              "drop each example's label independently"),
        "loss_summed": ("label_dropout", "answer_guidance", replace("labels), eps)", 'labels), eps, reduction="sum")'), "average over the batch"),
        "step_variance_beta": ("reverse_step", "answer_sampler", replace("variance = (1 - alpha_bar_prev) / (1 - alpha_bar) * beta", "variance = beta"),
                               "the variance is beta_t"),
        "step_time_off_by_one": ("reverse_step", "answer_sampler", replace("    beta, alpha = extract(schedule.beta, t, x_t)",
                                                                           "    t = (t + 1).clamp(max=schedule.T)\n    beta, alpha = extract(schedule.beta, t, x_t)"),
                                 "t + 1 used for t"),
        "sampler_without_noise": ("sampler", "answer_sampler", replace("torch.randn(shape, generator=generator).to(device))", "torch.zeros(shape).to(device))"),
                                  "the noise each step added"),
        "decoder_density": ("bound", "answer_bound", replace("mass = (normal.cdf(upper) - normal.cdf(lower)).clamp(min=1e-12)",
                                                             "mass = normal.log_prob(x0).exp()"), "minus the log-density"),
        "bound_variance_beta": ("bound", "answer_bound", replace("/ (2 * variance))", "/ (2 * schedule.beta[step]))"), "L_(t-1) recomputed"),
        # After the grader's recipe: a loss that drops every label (guidance cannot change the class) and one whose target
        # is zero instead of the noise.
        "labels_always_dropped": ("guidance_sweep", "answer_guidance", replace("torch.rand(B, device=x0.device) < p_uncond",
                                                                             "torch.rand(B, device=x0.device) < 2.0"),
                                  "class accuracy of guided samples at w = 1"),
        "loss_target_zero": ("sample_quality", "answer_guidance", replace("labels), eps)", "labels), 0 * eps)"), "FID against the test set"),
        # The integrity suite's cheats where hw5 gives them a place: a sampler that returns draws of the distribution its
        # model describes (the chain replay finds it), and a forged result file.
        "sampler_returns_mixture_draws": ("sampler", "answer_sampler", replace(
            "    return x\n", '    return eps_model.mixture.sample(shape[0])[0].float() if hasattr(eps_model, "mixture") else x\n'),
            "not the last step's output"),
        "forged_result": ("schedule", "answer_schedule", prepend(
            'import os, torch\nif os.path.exists("program.json"):\n'
            '    torch.save({"beta": torch.zeros(4, dtype=torch.float64)}, "result.pt")\n    os._exit(0)'),
            "not written by the grader's worker"),
    },
    "hw6": {
        "velocity_sign_flipped": ("paths", "answer_paths", replace("return expand(d_alpha, x1) * x1 + expand(d_sigma, x0) * x0",
                                                                   "return -(expand(d_alpha, x1) * x1 + expand(d_sigma, x0) * x0)"), "the sign is flipped"),
        "vp_noise_and_data_swapped": ("paths", "answer_paths", replace(
            "return torch.sin(angle), math.pi / 2 * torch.cos(angle), torch.cos(angle), -math.pi / 2 * torch.sin(angle)",
            "return torch.cos(angle), -math.pi / 2 * torch.sin(angle), torch.sin(angle), math.pi / 2 * torch.cos(angle)"), "noise and the data are swapped"),
        "loss_summed": ("cfm_loss", "answer_paths", replace("cond_velocity(x0, x1, t, path)).pow(2).mean()", "cond_velocity(x0, x1, t, path)).pow(2).sum()"),
                        "average over the batch and the coordinates"),
        "loss_target_always_linear": ("cfm_loss", "answer_paths", replace("cond_velocity(x0, x1, t, path)).pow(2).mean()",
                                                                          'cond_velocity(x0, x1, t, "linear")).pow(2).mean()'), "the velocity of the path you were given"),
        "heun_reuses_first_slope": ("solvers", "answer_solvers", replace("x = x + h / 2 * (slope + v(predicted, t + h))",
                                                                         "x = x + h / 2 * (slope + slope + 0 * v(predicted, t + h))"), "update is the Euler step"),
        "euler_at_the_step_end": ("solvers", "answer_solvers", replace("x = x + h * v(x, t)", "x = x + h * v(x, t + h)"), "should evaluate the field at x_0 and t_0"),
        "heun_without_the_half": ("transport", "answer_solvers", replace("x = x + h / 2 * (slope + v(predicted, t + h))", "x = x + h * (slope + v(predicted, t + h)) / 2.5"),
                                  "update is not"),
        # The integrity suite's cheat where hw6 gives it a place: a sampler that returns draws of the distribution its field
        # carries to (the chain replay finds it).
        "sampler_returns_target_draws": ("transport", "answer_solvers", replace(
            "        x = x + h / 2 * (slope + v(predicted, t + h))\n    return x\n",
            "        x = x + h / 2 * (slope + v(predicted, t + h))\n"
            '    field = getattr(v, "field", None)\n'
            "    return field.mu + field.s * torch.randn_like(x) if hasattr(field, \"mu\") else x\n"), "did not return the end of its own chain"),
        "divergence_summed_over_batch": ("divergence", "answer_likelihood", replace("    return velocity.detach(), divergence\n",
                                                                                    "    return velocity.detach(), divergence.sum().expand(len(x))\n"),
                                         "the sum over the batch"),
        "hutchinson_fresh_probe": ("divergence", "answer_likelihood", replace("grad_outputs=z)", "grad_outputs=torch.randn_like(z))"), "is the probe z used"),
        "likelihood_sign_flipped": ("log_likelihood", "answer_likelihood", replace("return log_p0 - integral", "return log_p0 + integral"), "wrong sign"),
        "likelihood_euler": ("log_likelihood", "answer_likelihood", lambda source: replace("x = x - h / 2 * (velocity + velocity_next)", "x = x - h * velocity")(
            replace("integral = integral + h / 2 * (divergence + divergence_next)", "integral = integral + h * divergence")(source)), "Euler steps"),
        "ot_inverse_permutation": ("ot_pair", "answer_ot", replace("order[torch.as_tensor(cols)] = torch.as_tensor(rows)", "order[torch.as_tensor(rows)] = torch.as_tensor(cols)"),
                                   "the optimum is"),
        # After the grader's recipes: the known bugs calibration measures, a log-density without its normaliser, and a
        # log_likelihood inflated only for the course network (the grader's own integration of the same weights finds it).
        "log_p0_unnormalised": ("density_2d", "answer_likelihood", replace("x[0].numel() * math.log(2 * math.pi)", "0 * math.log(2 * math.pi)"), "integrates to"),
        "ot_ignored": ("ot_straightness", "answer_ot", HW6_BUGS["ot_ignored"]["answer_ot"], "is ot_pair used in FlowMatching.loss?"),
        "target_zero": ("sample_quality", "answer_paths", HW6_BUGS["target_zero"]["answer_paths"], "FID against the test set"),
        "likelihood_inflated_for_the_course_net": ("trained_likelihood", "answer_likelihood", replace(
            "return log_p0 - integral", 'return log_p0 - integral + (5.0 if type(v).__name__ == "VelocityNet" else 0.0)'),
            "differs from the grader's integration"),
        "forged_result": ("paths", "answer_paths", prepend(
            'import os, torch\nif os.path.exists("program.json"):\n'
            '    torch.save({"linear": {}}, "result.pt")\n    os._exit(0)'),
            "not written by the grader's worker"),
    },
}
CASES = [(homework, name) for homework, table in MUTANTS.items() for name in sorted(table)]


@pytest.mark.slow
@pytest.mark.parametrize("homework, name", CASES, ids=[f"{h}-{n}" for h, n in CASES])
def test_check_catches_planted_bug(homework, name, tmp_path):
    check, cell, bug, expected_words = MUTANTS[homework][name]
    derive_submission(find_homework(homework).source_notebook, tmp_path / "submissions" / f"{name}.ipynb", {cell: bug})
    done = run_grader("grade", homework, str(tmp_path / "submissions"), "--out", str(tmp_path / "out"),
                      "--checks", check, "--jobs", "1", "--quiet", "--no-gradebook")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "out" / name / "result.json").read_text())
    [outcome] = result["checks"]
    assert outcome["status"] == "fail", f"{name}: check {check} did not fail: {outcome}"
    assert expected_words in outcome["message"], f"{name}: message does not point at the bug: {outcome['message']}"


# Correct solutions that differ from the reference where the spec leaves a choice: each passes the check that
# judges that choice. (homework, check, answer cell, edit)
ACCEPTED = {
    "hw2_actnorm_divides_by_n": ("hw2", "actnorm", "answer_layers", replace("x.std(dims)", "x.std(dims, correction=0)")),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_check_accepts_a_choice_the_spec_allows(name, tmp_path):
    homework, check, cell, edit = ACCEPTED[name]
    derive_submission(find_homework(homework).source_notebook, tmp_path / "submissions" / f"{name}.ipynb", {cell: edit})
    done = run_grader("grade", homework, str(tmp_path / "submissions"), "--out", str(tmp_path / "out"),
                      "--checks", check, "--jobs", "1", "--quiet", "--no-gradebook")
    assert done.returncode == 0, done.stderr
    [outcome] = json.loads((tmp_path / "out" / name / "result.json").read_text())["checks"]
    assert outcome["status"] == "pass", outcome


@pytest.mark.parametrize("homework", sorted(MUTANTS))
def test_every_autograded_check_has_a_mutant(homework):
    autograded = {c.grade_id for c in grade_cells(read_notebook(find_homework(homework).source_notebook)) if c.autograded}
    assert autograded == {check for check, *_ in MUTANTS[homework].values()}
