"""Training recipes: one accelerate-launchable script per task, YAML configs under configs/<task>/."""
