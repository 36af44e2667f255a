"""Results pages (docs/results/<topic>.md): one per seed question, generated from committed CSVs.

`latent-lab results collect SPEC [RUNS_DIR...]` reads finished run folders into small CSVs under
docs/results/data/<topic>/ (collect.py, curves.py); `latent-lab results page SPEC` reads only
those CSVs and writes the page and its figures (tables.py, answer.py, plots.py, render.py).
The spec (spec.py) says what the question is and what to tabulate, compare and draw.
"""
