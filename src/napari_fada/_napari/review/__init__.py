"""The review queue dock: a dataset's images by status, opened in the annotator."""
