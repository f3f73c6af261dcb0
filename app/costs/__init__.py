"""Cost attribution: cost drivers, order types, each order's breakdown and the heatmap."""
