"""FSM in-context-learning accuracy beside the exact Bayes ceiling, as an `evaluate` module.

    scorer = evaluate.load("latent_lab/tasks/fsm_icl/scoring/fsm_icl_accuracy")
    scorer.compute(correct=[...], seen=[...], model_nll=[...],
                   bayes_correct_prob=[...], bayes_nll=[...])

One entry per scored position (a query step's next state): whether the model's argmax was
right, whether the step's (state, action) occurred earlier in the sequence, the model's NLL of
the true next state, and the exact Bayes-optimal predictor's probability of being right and its
NLL of the true next state. The Trainer metrics of latent_lab's FSM recipe are this computation.
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = __doc__


def _mean(values, mask=None) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values if mask is None else values[mask]
    return float(values.mean()) if values.size else float("nan")


class FsmIclAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_DESCRIPTION,
            features=datasets.Features(
                {
                    "correct": datasets.Value("bool"),
                    "seen": datasets.Value("bool"),
                    "model_nll": datasets.Value("float64"),
                    "bayes_correct_prob": datasets.Value("float64"),
                    "bayes_nll": datasets.Value("float64"),
                }
            ),
        )

    def _compute(self, correct, seen, model_nll, bayes_correct_prob, bayes_nll):
        correct, seen = np.asarray(correct, dtype=bool), np.asarray(seen, dtype=bool)
        return {
            "accuracy": _mean(correct),
            "accuracy_seen": _mean(correct, seen),
            "accuracy_unseen": _mean(correct, ~seen),
            "frac_seen": _mean(seen),
            "bayes_accuracy": _mean(bayes_correct_prob),
            "bayes_accuracy_unseen": _mean(bayes_correct_prob, ~seen),
            "scored_loss": _mean(model_nll),
            "bayes_loss": _mean(bayes_nll),
            "num_scored": int(correct.size),
        }
