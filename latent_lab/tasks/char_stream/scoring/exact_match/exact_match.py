"""Exact match of generated answers, as an `evaluate` module: a reply counts when it is exactly
the answer (case and spaces included; latent_lab cuts a reply at the first newline, the end of
a char-stream line, before scoring it).

    scorer = evaluate.load("latent_lab/tasks/char_stream/scoring/exact_match")
    scorer.compute(predictions=["c e b e"], references=["c e b e"])
    # {"exact_match": 1.0, "matches": [True]}   (matches: one flag per reply)
"""

import datasets
import evaluate

_DESCRIPTION = __doc__


class ExactMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        hits = [
            prediction == reference
            for prediction, reference in zip(predictions, references, strict=True)
        ]
        return {"exact_match": sum(hits) / len(hits) if hits else float("nan"), "matches": hits}
