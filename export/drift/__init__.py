"""The accuracy-drift gate: figures recomputed against packaged baselines."""
