"""fsm_icl's `latent-lab probe` targets (listed without importing anything heavy; the data
and targets are made in probes_data.py).

At each scored query step `s a s'` the features are every layer's hidden state at the action
token `a`, where the model predicts s'. Targets there:
- current_state: s, the token before (the action token itself does not carry it);
- next_state: s', what the model has to predict;
- seen: whether (s, a) occurred earlier in the sequence (the dataset's exact seen_mask);
- posterior: at the steps whose (s, a) is unseen, the exact Bayes posterior over s' given
  the transitions observed so far (reference.py), a probability vector over the states.
"""

from __future__ import annotations

from latent_lab.analysis.probe_settings import ProbeTarget

COLLECT = "latent_lab.tasks.fsm_icl.probes_data:probe_sets"
ABOUT = {
    "current_state": ("hard", "the state s of the step s a s' (read at the action a)"),
    "next_state": ("hard", "the next state s' the model predicts at the action"),
    "seen": ("hard", "whether (s, a) occurred earlier in the sequence"),
    "posterior": ("soft", "exact posterior over the next state of an unseen (s, a)"),
}


def probe_targets() -> dict[str, ProbeTarget]:
    return {
        name: ProbeTarget(kind=kind, about=about, collect=COLLECT)
        for name, (kind, about) in ABOUT.items()
    }
