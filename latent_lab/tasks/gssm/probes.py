"""GSSM's `latent-lab probe` targets (listed without importing anything heavy; the data and
the exact marginals are in probes_posterior.py).

posterior: for every latent node Z, the exact filter posterior p(Z(t) | X(1..t)) (soft), read
at the input position of X(t), t = 1..T (the model's input is [BOS, X(1..T)]; there it has seen
exactly X(1..t)). This is the spec's p(Z_t | x_<=t): the belief after conditioning on X(t),
before the latents step to t+1 (the belief that predicts X(t+1) is this one moved one step by
the kernels, given X(t))."""

from __future__ import annotations

from latent_lab.analysis.probe_settings import ProbeTarget


def probe_targets() -> dict[str, ProbeTarget]:
    return {
        "posterior": ProbeTarget(
            kind="soft",
            about="p(Z(t) | X(1..t)) of every latent node, at X(t)'s position",
            collect="latent_lab.tasks.gssm.probes_posterior:probe_sets",
            splits=("train", "validation"),
            default_splits=("train", "validation"),
        )
    }
