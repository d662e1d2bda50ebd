//! The neural network: dense layers, activations, losses, optimisers, the autoencoder.
//! (DEC's soft-assignment layer lives beside DEC's loop, in `cluster::dec`.)
//!
//! Read in this order: `activation` and `dense` (each layer's forward and backward side by
//! side), `loss`, `init`, `mlp` (the backward of a stack is the layers' backwards in
//! reverse), `optim`, `params` (the one parameter protocol), `autoencoder` (the training
//! loop).
//!
//! Convention, one for every layer and loss (DEC's soft assignment in `cluster::dec`
//! included): a `*_forward` writes its output; a `*_backward` OVERWRITES the gradient buffers it is given (their old values are never read), as
//! Keras's and the reference's gradients are per batch. Nothing needs zeroing before a
//! step, and a model's gradients after `backward` are this batch's alone.
//!
//! Models and workspaces are separate: `Mlp` and `Autoencoder` hold parameters and their
//! gradients; the activations a training step keeps for its backward live in a
//! `Workspace` / `AeWorkspace` that the training loop owns, so `predict(&self)` and
//! scoring a model mid-training need no copy of it.
//!
//! One parameter protocol ([`Parameters`], in `params`): every model (Dense, Mlp,
//! Autoencoder, and in `cluster` DEC and IDEC) walks its tensors by name in one fixed
//! order; optimisers step that walk, weights files and checkpoints save it, and loading
//! builds each model from a file's tensors under the same names (`from_source`), with no
//! random network drawn first.

pub mod activation;
pub mod autoencoder;
pub mod dense;
pub mod init;
pub mod loss;
pub mod mlp;
pub mod optim;
pub mod params;

pub use activation::{Activation, activation_backward, activation_forward};
pub use autoencoder::{
    AeWorkspace, Autoencoder, EpochReport, FitConfig, MidEpoch, stack_activations,
};
pub use dense::{Dense, dense_backward, dense_forward};
pub use init::Init;
pub use loss::{kl_divergence, kl_divergence_backward, mse_backward, mse_forward};
pub use mlp::{Mlp, Workspace};
pub use optim::{Adam, Nesterov, Optimizer, Param, Sgd};
pub use params::{Parameters, TensorSource, tensor_dims, tensor_shape};
