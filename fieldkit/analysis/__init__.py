"""Analyses over loaded data: embeddings, search, themes, duplicates, summaries, logs."""
