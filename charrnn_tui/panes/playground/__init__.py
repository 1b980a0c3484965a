"""The Playground tab: a seed, the sampling controls and the streamed text."""
