"""The annotator dock: propose on the image in view, review the proposal, save it."""
