"""The train & evaluate dock: score a model, train or fine-tune the embedded one."""
