"""Training recipes: one accelerate-launchable script per task; YAML configs in configs/<task>/."""
