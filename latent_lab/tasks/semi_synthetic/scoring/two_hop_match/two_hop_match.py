"""Two-hop answer grading, as an `evaluate` module: a reply counts when it contains the answer,
case-insensitively (a chain-of-thought reply names the intermediate entity first, then the
answer; the seed's grading).

    scorer = evaluate.load("latent_lab/tasks/semi_synthetic/scoring/two_hop_match")
    scorer.compute(predictions=["It is in Wyoming."], references=["Wyoming"])
    # {"accuracy": 1.0, "matches": [True]}   (matches: one flag per reply)
"""

import datasets
import evaluate

_DESCRIPTION = __doc__


def matches(answer: str, generated: str) -> bool:
    return answer.casefold() in generated.casefold()


class TwoHopMatch(evaluate.Metric):
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
            matches(answer, reply) for reply, answer in zip(predictions, references, strict=True)
        ]
        return {"accuracy": sum(hits) / len(hits) if hits else float("nan"), "matches": hits}
