"""Prompting in the annotator: a box or clicks on the image outline the chosen structure."""
