"""charrnn-tui: train a character-level RNN and play with it live in the terminal."""
