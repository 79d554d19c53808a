"""Low-resource experiment grids, run store, statistics and report."""
