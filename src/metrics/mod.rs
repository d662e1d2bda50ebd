//! Clustering metrics: NMI, accuracy through the Hungarian algorithm, ARI.
