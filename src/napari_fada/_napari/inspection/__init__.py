"""The failure inspection dock: the worst cases of a model against ground truth."""
