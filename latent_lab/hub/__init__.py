"""Hub cards and pushes: dataset and model cards, uploads."""
