"""The export pipeline: its configuration, stages, typed artifacts, output-folder transaction and run summary."""
