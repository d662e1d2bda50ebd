//! Data in: the article's CSV + PNG layout and MNIST's IDX files, as `Matrix` (N, D) in [0, 1].
