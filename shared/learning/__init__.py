"""The learning loop's storage: training runs, batch jobs (reclassification) and shadow predictions."""
