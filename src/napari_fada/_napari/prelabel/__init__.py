"""The pre-label dock: a model's proposals for a whole folder or clip, saved for review."""
