"""Reports: the JSON model and the writers rendered from it."""
