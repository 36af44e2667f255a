"""One `datasets` builder per task (config -> latent_lab.tasks sampler -> rows), plus the
helpers that build, save, describe and push them."""
