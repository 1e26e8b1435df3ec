"""Data: the on-disk layout, readers of real data sets, and the procedural rooms scenes."""
