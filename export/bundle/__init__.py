"""The deployment bundle writer and its text files."""
