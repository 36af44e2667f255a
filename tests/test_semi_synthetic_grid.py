"""The semi-synthetic experiment around the recipe: the full-run grid (17 types x 3 seeds) and
how grids expand its per-type configs, and the per-type plot of the runs' results."""

import json
from pathlib import Path

import pytest

from latent_lab.tasks.semi_synthetic import facts

REPO = Path(__file__).resolve().parents[1]


def test_full_run_grid_is_17_type_configs_by_3_seeds(tmp_path):
    from latent_lab.launch.grid import expand_grid, load_grid

    tasks = expand_grid(load_grid(REPO / "recipes" / "grids" / "semi_synthetic" / "full_run.yaml"))
    assert len(tasks) == 51 and len(facts.FULL_RUN_TYPES) == 17
    assert [task.run_name for task in tasks[:4]] == [
        "parks-seed1", "parks-seed2", "parks-seed3", "chemical_elements-seed1"
    ]  # fmt: skip
    assert [task.config["type"] for task in tasks] == [
        e2_type for e2_type in facts.FULL_RUN_TYPES for _ in range(3)
    ]
    fourth = tasks[3].config
    assert (fourth["config_name"], fourth["seed"]) == ("chemical_elements", 1)
    assert fourth["wandb_group"] == "semi_synthetic_full/chemical_elements"
    assert fourth["model_name_or_path"] == "meta-llama/Llama-3.1-8B-Instruct"


def test_grid_config_list_crosses_with_other_keys(tmp_path, capsys):
    import yaml

    from latent_lab.cli import main as cli_main
    from latent_lab.launch.grid import expand_grid, load_grid

    values = {"config": ["bridges", "parks"], "learning_rate": [1.0e-6, 2.0e-6]}
    grid = {"recipe": "semi_synthetic", "grid": values, "seeds": [1], "output_dir": str(tmp_path)}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(grid))
    tasks = expand_grid(load_grid(path))
    assert [task.run_name for task in tasks] == [
        "bridges-lr1e-6-seed1", "bridges-lr2e-6-seed1", "parks-lr1e-6-seed1", "parks-lr2e-6-seed1"
    ]  # fmt: skip
    assert tasks[2].config["config_name"] == "parks/lr1e-6" and tasks[2].config["type"] == "parks"
    path.write_text(yaml.safe_dump({**grid, "config": "parks"}))
    assert cli_main(["launch", str(path), "--dry-run"]) == 2
    assert "not both" in capsys.readouterr().err


def test_two_hop_plot_means_and_intervals_over_seeds(tmp_path):
    from scipy import stats

    from latent_lab.tasks.semi_synthetic.plot import main as plot_main

    values = {"parks": [0.1, 0.3, 0.2], "bridges": [0.5, 0.5, 0.8]}
    for e2_type, seeds in values.items():
        attributes = facts.TYPE_ATTRIBUTES[e2_type]
        for seed, value in enumerate(seeds):
            metrics = {}
            for k, attribute in enumerate(attributes):  # per-attribute spread around `value`
                metrics[f"acc_2hop_{attribute}_nocot"] = value + 0.01 * (
                    k - (len(attributes) - 1) / 2
                )
                metrics[f"acc_2hop_{attribute}_cot"] = 1.0
                metrics[f"loss_advantage_{attribute}"] = -value
            run = tmp_path / "runs" / f"{e2_type}-seed{seed}"
            run.mkdir(parents=True)
            results = {"task": "semi_synthetic", "type": e2_type, "seed": seed, "metrics": metrics}
            (run / "results.json").write_text(json.dumps(results))
    summary = plot_main([str(tmp_path / "runs"), "--output", str(tmp_path / "plot.png")])
    assert [row["type"] for row in summary["types"]] == ["parks", "bridges"]  # spec order
    for row in summary["types"]:
        seeds = values[row["type"]]
        mean = sum(seeds) / 3
        half = stats.t.ppf(0.975, 2) * stats.tstd(seeds) / 3**0.5
        nocot = row["nocot_accuracy"]
        assert nocot["n"] == 3 and nocot["mean"] == pytest.approx(mean)
        interval = (max(0.0, mean - half), min(1.0, mean + half))  # accuracies stay in [0, 1]
        assert (nocot["ci95_low"], nocot["ci95_high"]) == pytest.approx(interval)
        assert row["cot_accuracy"]["mean"] == 1.0 and row["cot_accuracy"]["std"] == 0.0
        assert row["loss_advantage"]["mean"] == pytest.approx(-mean)
    assert (tmp_path / "plot.png").stat().st_size > 0 and (tmp_path / "plot.csv").is_file()
