"""GSSM loss and accuracy beside the exact Bayes-optimal predictor (an exact forward filter over
the joint latent state), as an `evaluate` module.

    scorer = evaluate.load("latent_lab/tasks/gssm/scoring/gssm_excess_loss")
    scorer.compute(model_nll=[...], correct=[...], bayes_nll=[...], bayes_top_prob=[...])

One entry per scored token: the model's NLL (nats) and whether its argmax was right; the exact
optimum's NLL and its expected accuracy (its predictive distribution's largest probability).
excess_loss = loss - bayes_loss, 0 at the optimum. The Trainer metrics of latent_lab's GSSM
recipe are this computation.
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = __doc__


class GssmExcessLoss(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_DESCRIPTION,
            features=datasets.Features(
                {
                    "model_nll": datasets.Value("float64"),
                    "correct": datasets.Value("bool"),
                    "bayes_nll": datasets.Value("float64"),
                    "bayes_top_prob": datasets.Value("float64"),
                }
            ),
        )

    def _compute(self, model_nll, correct, bayes_nll, bayes_top_prob):
        loss = float(np.mean(np.asarray(model_nll, dtype=np.float64)))
        bayes_loss = float(np.mean(np.asarray(bayes_nll, dtype=np.float64)))
        return {
            "loss": loss,
            "accuracy": float(np.mean(np.asarray(correct, dtype=bool))),
            "bayes_loss": bayes_loss,
            "bayes_accuracy": float(np.mean(np.asarray(bayes_top_prob, dtype=np.float64))),
            "excess_loss": loss - bayes_loss,
        }
