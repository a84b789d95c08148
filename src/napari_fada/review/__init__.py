"""Reviewing a pre-labelled dataset: the queue of images, its saved position, the statistics."""
