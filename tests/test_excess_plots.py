"""`latent-lab report` distance-to-optimum figures: bands across the seeds of a config are the
mean and the 95% Student-t interval; several runs and one run both get the three PNGs."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from latent_lab.analysis.excess_plots import FILES, band, by_position, slice_means
from latent_lab.cli import main as cli_main


def write_run(folder, seed: int, config_name: str, offset: float):
    folder.mkdir(parents=True)
    rows = []
    for step, tokens in ((1, 100), (10, 1000)):
        for example in range(3):
            for position in range(8):
                model = 2.0 + offset + (1.0 if step == 1 else 0.0) + 0.01 * position
                rows.append(dict(step=step, train_tokens=tokens, split="validation",
                                 example=example, position=position, model_nll=model,
                                 reference_nll=1.0, correct=bool(position % 2),
                                 reference_accuracy=0.5, slice_seen=bool(example % 2)))  # fmt: skip
    pd.DataFrame(rows).to_parquet(folder / "positions.parquet")
    results = {"task": "t", "config_name": config_name, "seed": seed, "run_name": folder.name,
               "metrics": {"eval_loss": 2.0}, "reference": {}, "reference_for": {}}  # fmt: skip
    (folder / "results.json").write_text(json.dumps(results))


def test_band_is_the_mean_and_the_95_percent_t_interval():
    curves = [np.array([1.0, 2.0]), np.array([3.0, 2.0]), np.array([2.0, 5.0])]
    mean, low, high = band(curves)
    np.testing.assert_allclose(mean, [2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * np.array([1.0, np.sqrt(3.0)]) / np.sqrt(3)
    np.testing.assert_allclose(high - mean, half)
    np.testing.assert_allclose(mean - low, half)


def test_position_and_slice_means_of_known_records():
    frame = pd.DataFrame({"position": [0, 0, 1, 3], "excess": [1.0, 3.0, 5.0, 7.0],
                          "slice_seen": [True, False, True, True]})  # fmt: skip
    np.testing.assert_allclose(by_position(frame, np.array([0, 1, 2, 3, 4])),
                               [2.0, 5.0, np.nan, 7.0])  # fmt: skip
    assert slice_means(frame, "slice_seen") == {"False": 3.0, "True": pytest.approx(13 / 3)}


@pytest.mark.parametrize("runs", [1, 3])
def test_report_writes_the_three_figures(tmp_path, capsys, runs):
    folders = [tmp_path / "runs" / f"seed{seed}" for seed in range(runs)]
    for seed, folder in enumerate(folders):
        write_run(folder, seed, "quick", offset=0.1 * seed)
    out = tmp_path / "out"
    assert cli_main(["report", *map(str, folders), "--output-dir", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(summary["excess_plots"]) == sorted(str(out / name) for name in FILES)
    assert all((out / name).stat().st_size > 5000 for name in FILES)
