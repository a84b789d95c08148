"""Writers of the dataset folder's files, one format per module (docs/dataset-format.md)."""
