"""The annotator's cine panel: propose along a whole clip, review and accept frames."""
