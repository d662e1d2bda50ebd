//! Clustering: K-Means++ and Deep Embedded Clustering.
