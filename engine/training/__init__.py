"""Training: the loop, its configuration, optimizers, precision, ranks and resuming."""
