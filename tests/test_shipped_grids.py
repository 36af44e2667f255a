"""Every shipped grid expands to the runs its seed document asks for (configs x seeds)."""

from pathlib import Path

import pytest

from latent_lab.launch.grid import expand_grid, load_grid

SHIPPED_GRIDS = sorted((Path(__file__).resolve().parents[1] / "recipes" / "grids").glob("*/*.yaml"))
# The seeds' repeated runs: runs per config (5 for FSM priority-1 phases and the insert_spaces
# learning-rate comparison, 3 elsewhere).
EXPECTED_TASKS = {"priority1": 7 * 5, "zoo": 11 * 5, "fsm_architectures": 6 * 3,
                  "gssm_infer_vs_predict": 3 * 3, "gssm_graph_seeds": 2 * 3,
                  "gssm_latent_structure": 4 * 3, "char_stream_one_change": 2 * 3,
                  "two_hop_self_contained": 3 * 3, "scaling": 4 * 3, "curriculum": 3,
                  "finetune": 2 * 3, "experiment1_onfly": 2 * 3, "experiment1_finite": 2 * 3,
                  "experiment1_graph_seeds": 2 * 6, "experiment2_onfly": 4 * 3,
                  "experiment2_finite": 4 * 3, "experiment2_graph_seeds": 4 * 6,
                  "full_run": 17 * 3, "insert_spaces_lr": 2 * 5}  # fmt: skip


@pytest.mark.parametrize("path", SHIPPED_GRIDS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_grids_expand_to_the_seeds_runs(path):
    tasks = expand_grid(load_grid(path))
    assert len(tasks) == EXPECTED_TASKS[path.stem]
    assert len({task.run_name for task in tasks}) == len(tasks)
