"""What the notebooks show: plots, and the threshold explorer with its review bar."""
