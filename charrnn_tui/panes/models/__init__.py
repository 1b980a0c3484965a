"""The Models tab: saved models to load, resume, rename, delete or save under a name."""
