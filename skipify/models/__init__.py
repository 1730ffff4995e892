"""Models: preprocessing, the LightGBM baseline, and (next) the two-tower and the deep classifier."""
