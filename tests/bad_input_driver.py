"""Run many `latent-lab` and recipe invocations in one interpreter, as a user would run each
(its own working folder, its own stdout and stderr), and report every outcome as JSON; the
heavy imports are paid once. Used by tests/test_bad_input.py.

python tests/bad_input_driver.py CASES.json RESULTS.json

CASES.json: a list of {"id", "kind": "cli" | "recipe", "argv", "cwd", "recipe", "env", "umask"}.
A case runs like its console script: `latent_lab.cli.main(argv)` (the return value or SystemExit
is the exit code), or a recipe's `run_recipe(make_parser(), main, argv)`; an exception that
escapes is printed with its traceback and is exit code 1, as Python would. Output is captured
at the file-descriptor level, so library handlers bound to the real stderr are captured too.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.dont_write_bytecode = True  # a user module imported from a case folder leaves no __pycache__
CASE_TIMEOUT_S = int(os.environ.get("BAD_INPUT_CASE_TIMEOUT", "60"))
TIMED_OUT = 124  # as timeout(1) reports it


class CaseTimeout(BaseException):
    """A case ran past CASE_TIMEOUT_S: it did work its checks should have refused."""


def _time_out(signum, frame):
    raise CaseTimeout(f"still running after {CASE_TIMEOUT_S} s")


def load_recipe(name: str):
    """recipes/<name>.py as a module (its `main` and `make_parser`), imported once."""
    module_name = f"_bad_input_recipe_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, REPO / "recipes" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def invoke(case: dict) -> int:
    """The exit code the case's command would give."""
    signal.signal(signal.SIGALRM, _time_out)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        if case["kind"] == "cli":
            from latent_lab.cli import main

            return main(list(case["argv"]))
        from latent_lab.training.recipe import run_recipe

        recipe = load_recipe(case["recipe"])
        run_recipe(recipe.make_parser(), recipe.main, list(case["argv"]))
        return 0
    except SystemExit as exit:
        code = exit.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except CaseTimeout as timeout:
        print(f"bad_input_driver: {timeout}", file=sys.stderr)
        return TIMED_OUT
    except BaseException:  # noqa: BLE001  what Python prints for an uncaught exception
        traceback.print_exc()
        return 1
    finally:
        signal.alarm(0)


@contextlib.contextmanager
def captured_output(out_path: str, err_path: str):
    """Point file descriptors 1 and 2 at files for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)


@contextlib.contextmanager
def case_context(case: dict):
    """The case's working folder, environment variables and umask, restored afterwards."""
    old_cwd, old_env, old_path = os.getcwd(), dict(os.environ), list(sys.path)
    old_umask = os.umask(case.get("umask", 0o022))
    os.environ.update(case.get("env", {}))
    os.chdir(case["cwd"])
    # PYTHONPATH is read when Python starts: add it to sys.path as a fresh process would have.
    sys.path[:0] = [os.path.abspath(p) for p in case.get("env", {}).get("PYTHONPATH", "").split(
        os.pathsep) if p]  # fmt: skip
    modules = set(sys.modules)
    try:
        yield
    finally:
        for name in set(sys.modules) - modules:  # the user's modules: each case imports its own
            if str(getattr(sys.modules[name], "__file__", "")).startswith(case["cwd"]):
                del sys.modules[name]
        sys.path[:] = old_path
        os.chdir(old_cwd)
        os.umask(old_umask)
        os.environ.clear()
        os.environ.update(old_env)


def run_case(case: dict, scratch: Path) -> dict:
    out_path, err_path = scratch / "out", scratch / "err"
    with case_context(case), captured_output(str(out_path), str(err_path)):
        code = invoke(case)
    return {
        "id": case["id"],
        "code": code,
        "stdout": out_path.read_text(errors="replace"),
        "stderr": err_path.read_text(errors="replace"),
    }


def main(cases_file: str, results_file: str) -> None:
    cases = json.loads(Path(cases_file).read_text())
    results = []
    with tempfile.TemporaryDirectory(prefix="bad_input_driver.") as scratch:
        for case in cases:
            results.append(run_case(case, Path(scratch)))
            Path(results_file).write_text(json.dumps(results))  # kept if a later case hangs


if __name__ == "__main__":
    main(*sys.argv[1:])
