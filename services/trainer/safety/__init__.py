"""Draft-safety evaluation: a labelled set of clean drafts and planted faults, scored per reason."""
