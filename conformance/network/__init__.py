"""The run's network: the metadata host's place, SSRF aims and canaries, and the lab."""
