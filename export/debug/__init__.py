"""Layer-by-layer diagnosis of where two runs of the network part ways."""
