//! The neural network: dense layers, activations, losses, optimisers, the autoencoder.
