"""Generation: streaming samples and per-character traces of a trained model."""
