"""Source data of the semi-synthetic two-hop task: one JSON table per e2 type, people.json (the
invented people) and schema.py (the table format and its checks). Loaded by
latent_lab.tasks.two_hop."""
