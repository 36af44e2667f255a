"""Source data of the semi-synthetic two-hop task: one JSON table per e2 type and people.json
(the invented people); the table format and its checks are in ../schema.py. Loaded by
latent_lab.tasks.semi_synthetic.facts."""
