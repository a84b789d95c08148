"""Qt building blocks the docks share: worker threads, form rows, pickers, proposal layers."""
