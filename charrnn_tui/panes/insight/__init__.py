"""The Insight tab: text coloured by confidence or one unit, find cells, compare."""
