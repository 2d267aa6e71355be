"""The reference models of the four families, their data, training and checkpoints."""
