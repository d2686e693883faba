"""Recipes: params -> datasets, model, engine task; train and test entry points per model family."""
