//! Checkpoints: everything an interrupted run needs to continue exactly as if it had never
//! stopped, in one safetensors file written atomically (`checkpoint.safetensors` in the
//! output folder).
//!
//! - During pretraining, after an epoch: the autoencoder's parameters (`model.*`), the
//!   optimiser's state (Adam's moments `optim.m.*`, `optim.v.*` and step count, or SGD's
//!   velocities `optim.velocity.*`) and the epoch. The shuffle of every epoch depends only
//!   on (seed, epoch), so nothing else is needed.
//! - During DEC, at a target update: the encoder and centres, SGD's velocities, the step
//!   count and the labels of the previous update (`dec.last_labels`).
//! - During IDEC: the same, with the decoder (`phase` `idec`, the model as in
//!   `idec.safetensors`). SGD's learning rate and momentum come from the schedule.
//!
//! The model's tensors and the optimiser's state follow the one parameter protocol
//! (`nn::Parameters`): the model is saved under its walk's names and built back from
//! them, and state tensor `optim.*.i` belongs to tensor i of that walk, the order the
//! optimiser steps. Loading refuses a missing tensor, one of another shape, and one that
//! is not part of the checkpoint, naming it.
//!
//! The run's own command line is kept in the metadata, so `--resume DIR` needs nothing
//! else, with the run's identity (`run_id`, see `identity`) and its data folder and
//! `--ae-weights` file as canonical paths (so that `--resume` works from any folder).
//! Every saved counter is checked against the run before training goes on ([`validate`]). Cheap, deterministic steps (K-Means) are recomputed on resume, not stored.

use std::path::{Path, PathBuf};

use crate::cluster::{Dec, DecParams, DecState, Idec};
use crate::experiment::identity::{self, RunId};
use crate::experiment::schedule::{Schedule, TrainOptimizer};
use crate::io::safetensors::{self, SafeTensors};
use crate::io::weights::{self, FileTensors, Tensors};
use crate::linalg::Matrix;
use crate::nn::{Autoencoder, MidEpoch, Parameters};
use crate::{Error, Result};

pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

/// Where a run was when its checkpoint was written. (One of these exists per run, so the
/// size difference between the variants does not matter.)
#[allow(clippy::large_enum_variant)]
pub enum Checkpoint {
    /// After `epoch` epochs of pretraining and, if Ctrl-C stopped it there, `mid`
    /// batches into the next.
    Pretrain {
        epoch: usize,
        mid: Option<MidEpoch>,
        ae: Autoencoder,
        optimizer: TrainOptimizer,
        /// The identity of the run that wrote it (None: written without one).
        run_id: Option<String>,
    },
    /// At DEC's target update of step `state.iter` (which a resumed run redoes).
    Dec {
        dec: Dec,
        state: DecState,
        run_id: Option<String>,
    },
    /// The same for IDEC; `state.optimizer` holds the velocities, and takes IDEC's
    /// learning rate and momentum from the schedule when it resumes.
    Idec {
        idec: Idec,
        state: DecState,
        run_id: Option<String>,
    },
}

impl Checkpoint {
    /// The identity of the run that wrote this checkpoint.
    pub fn run_id(&self) -> Option<&str> {
        match self {
            Checkpoint::Pretrain { run_id, .. }
            | Checkpoint::Dec { run_id, .. }
            | Checkpoint::Idec { run_id, .. } => run_id.as_deref(),
        }
    }
}

/// A run's state as the experiment hands it to `Observer::checkpoint`: the same two
/// positions as [`Checkpoint`], borrowed from the training loop.
pub enum Snapshot<'a> {
    /// After `epoch` epochs of pretraining (and `mid` batches into the next).
    Pretrain {
        epoch: usize,
        mid: Option<MidEpoch>,
        ae: &'a Autoencoder,
        optimizer: &'a TrainOptimizer,
        run: &'a RunId,
    },
    /// At (or between) DEC's target updates; see `TargetUpdate::state`.
    Dec {
        dec: &'a Dec,
        state: &'a DecState,
        run: &'a RunId,
    },
    /// At (or between) IDEC's target updates.
    Idec {
        idec: &'a Idec,
        state: &'a DecState,
        run: &'a RunId,
    },
}

/// Writes `snapshot` to `out/checkpoint.safetensors`, with `args` (the command line that
/// rebuilds the run's configuration) and the run's identity in its metadata.
pub fn save(out: &Path, args: &[String], snapshot: &Snapshot<'_>) -> Result<()> {
    match *snapshot {
        Snapshot::Pretrain {
            epoch,
            mid,
            ae,
            optimizer,
            run,
        } => save_pretrain(out, args, Some(run), (epoch, mid), ae, optimizer),
        Snapshot::Dec { dec, state, run } => {
            let (tensors, metadata) = weights::dec_tensors(dec);
            save_self_training(out, args, Some(run), "dec", (tensors, metadata), state)
        }
        Snapshot::Idec { idec, state, run } => {
            let (tensors, metadata) = weights::idec_tensors(idec);
            save_self_training(out, args, Some(run), "idec", (tensors, metadata), state)
        }
    }
}

/// A checkpoint, the command line of the run that wrote it, and that run's canonical
/// data folder and `--ae-weights` file (None in a checkpoint written without them).
pub struct Saved {
    pub args: Vec<String>,
    pub checkpoint: Checkpoint,
    pub data_dir: Option<PathBuf>,
    pub ae_weights: Option<PathBuf>,
}

/// The identity's metadata: `run_id`, `data_dir` and `ae_weights` (canonical paths).
fn run_metadata(run: Option<&RunId>, metadata: &mut Vec<(String, String)>) -> Result<()> {
    let Some(run) = run else {
        return Ok(());
    };
    metadata.push(run.tag());
    metadata.push((
        identity::DATA_DIR_KEY.into(),
        identity::path_text(&run.data_dir)?.into(),
    ));
    if let Some(ae) = &run.ae_weights {
        metadata.push((
            identity::AE_WEIGHTS_KEY.into(),
            identity::path_text(ae)?.into(),
        ));
    }
    Ok(())
}

pub fn path(out: &Path) -> PathBuf {
    out.join(CHECKPOINT_FILE)
}

/// The command line is stored one argument per line (arguments cannot hold a newline
/// that matters here; one that does is refused when saving).
fn args_metadata(args: &[String]) -> (String, String) {
    ("args".to_string(), args.join("\n"))
}

/// State i of an optimiser as tensor `prefix.i` of shape [len]: the state of tensor i of
/// the model's `Parameters` walk.
fn push_state<'a>(tensors: &mut Tensors<'a>, prefix: &str, state: &'a [Vec<f32>]) {
    for (i, s) in state.iter().enumerate() {
        tensors.push((format!("{prefix}.{i}"), vec![s.len()], s.as_slice()));
    }
}

/// The lengths of `model`'s parameter tensors in its walk's order: those of the
/// optimiser state it is stepped with.
fn state_lengths(model: &impl Parameters) -> Vec<usize> {
    model
        .named_params()
        .iter()
        .map(|(_, m)| m.as_slice().len())
        .collect()
}

/// `prefix.0`, `prefix.1`, ..., one per parameter tensor with its length (`lengths`), or
/// none at all (a state not allocated yet: before the first step) unless `required`.
fn read_state(
    source: &mut FileTensors<'_>,
    prefix: &str,
    lengths: &[usize],
    required: bool,
) -> Result<Vec<Vec<f32>>> {
    if !required && source.file().get(&format!("{prefix}.0")).is_none() {
        return Ok(Vec::new());
    }
    lengths
        .iter()
        .enumerate()
        .map(|(i, &len)| Ok(source.require(&format!("{prefix}.{i}"), &[len])?.to_vec()))
        .collect()
}

pub fn save_pretrain(
    out: &Path,
    args: &[String],
    run: Option<&RunId>,
    (epoch, mid): (usize, Option<MidEpoch>),
    ae: &Autoencoder,
    optimizer: &TrainOptimizer,
) -> Result<()> {
    let (mut tensors, mut metadata) = weights::autoencoder_tensors(ae, "model.");
    metadata.push(("phase".into(), "pretrain".into()));
    metadata.push(("epoch".into(), epoch.to_string()));
    if let Some(mid) = mid {
        metadata.push(("mid_steps".into(), mid.steps.to_string()));
        // The bits of the f64, so that the resumed epoch's loss is the same to the last bit.
        metadata.push((
            "mid_loss_total_bits".into(),
            mid.loss_total.to_bits().to_string(),
        ));
    }
    metadata.push(args_metadata(args));
    run_metadata(run, &mut metadata)?;
    match optimizer {
        TrainOptimizer::Adam(adam) => {
            let (iterations, m, v) = adam.state();
            metadata.push(("optimizer".into(), "adam".into()));
            metadata.push(("adam_iterations".into(), iterations.to_string()));
            push_state(&mut tensors, "optim.m", m);
            push_state(&mut tensors, "optim.v", v);
        }
        TrainOptimizer::Sgd(sgd) => {
            metadata.push(("optimizer".into(), "sgd".into()));
            push_state(&mut tensors, "optim.velocity", sgd.velocity());
        }
    }
    weights::save_tensors(path(out), &tensors, &metadata)
}

/// A DEC checkpoint without a run identity (the library's own use; `save` adds one).
pub fn save_dec(out: &Path, args: &[String], dec: &Dec, state: &DecState) -> Result<()> {
    let (tensors, metadata) = weights::dec_tensors(dec);
    save_self_training(out, args, None, "dec", (tensors, metadata), state)
}

/// The model's tensors, then DEC's loop state (shared by DEC and IDEC), with the run's
/// identity when given.
fn save_self_training(
    out: &Path,
    args: &[String],
    run: Option<&RunId>,
    phase: &str,
    (mut tensors, mut metadata): (Tensors<'_>, Vec<(String, String)>),
    state: &DecState,
) -> Result<()> {
    metadata.push(("phase".into(), phase.into()));
    metadata.push(("iter".into(), state.iter.to_string()));
    metadata.push(args_metadata(args));
    run_metadata(run, &mut metadata)?;
    // Labels are small integers, exact in f32 up to 2^24.
    let labels: Vec<f32> = state.last_labels.iter().map(|&l| l as f32).collect();
    tensors.push(("dec.last_labels".into(), vec![labels.len()], &labels));
    push_state(&mut tensors, "optim.velocity", state.optimizer.velocity());
    if state.target.rows() > 0 {
        let shape = vec![state.target.rows(), state.target.cols()];
        tensors.push(("dec.target".into(), shape, state.target.as_slice()));
    }
    weights::save_tensors(path(out), &tensors, &metadata)
}

fn number(path: &Path, file: &SafeTensors, key: &str) -> Result<u64> {
    file.metadata(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            Error::data(
                path,
                format!("checkpoint metadata `{key}` is missing or not a number"),
            )
        })
}

/// Reads the checkpoint in `out`; `template` supplies the optimiser's hyper-parameters
/// (they come from the saved command line), the checkpoint its state.
pub fn load(
    out: &Path,
    template: impl FnOnce(&[String]) -> Result<(TrainOptimizer, DecParams)>,
) -> Result<Saved> {
    let path = path(out);
    if !path.is_file() {
        return Err(Error::data(&path, "no checkpoint here to resume from"));
    }
    let file = safetensors::load(&path)?;
    let args: Vec<String> = file
        .metadata("args")
        .ok_or_else(|| Error::data(&path, "checkpoint metadata has no `args`"))?
        .split('\n')
        .map(str::to_string)
        .collect();
    let (mut optimizer, dec_params) = template(&args)?;
    let run_id = file.metadata(identity::RUN_ID_KEY).map(str::to_string);
    let saved_path = |key: &str| file.metadata(key).map(PathBuf::from);
    let (data_dir, ae_weights) = (
        saved_path(identity::DATA_DIR_KEY),
        saved_path(identity::AE_WEIGHTS_KEY),
    );
    let mut source = FileTensors::new(&path, &file);
    let checkpoint = match file.metadata("phase") {
        Some("pretrain") => {
            let epoch = number(&path, &file, "epoch")? as usize;
            let mid = match file.metadata("mid_steps") {
                None => None,
                Some(_) => Some(MidEpoch {
                    steps: number(&path, &file, "mid_steps")? as usize,
                    loss_total: f64::from_bits(number(&path, &file, "mid_loss_total_bits")?),
                }),
            };
            let ae = weights::read_autoencoder(&mut source, "model.")?;
            let lengths = state_lengths(&ae);
            match (&mut optimizer, file.metadata("optimizer")) {
                (TrainOptimizer::Adam(adam), Some("adam")) => {
                    let iterations = number(&path, &file, "adam_iterations")?;
                    let m = read_state(&mut source, "optim.m", &lengths, false)?;
                    let v = read_state(&mut source, "optim.v", &lengths, !m.is_empty())?;
                    adam.set_state(iterations, m, v);
                }
                (TrainOptimizer::Sgd(sgd), Some("sgd")) => {
                    sgd.set_velocity(read_state(&mut source, "optim.velocity", &lengths, false)?)
                }
                _ => {
                    return Err(Error::data(
                        &path,
                        "the checkpoint's optimiser does not match its command line",
                    ));
                }
            }
            Checkpoint::Pretrain {
                epoch,
                mid,
                ae,
                optimizer,
                run_id,
            }
        }
        Some("dec") => {
            let dec = weights::read_dec(&mut source)?;
            let lengths = state_lengths(&dec);
            let state = self_training_state(&mut source, &dec, &dec_params, &lengths)?;
            Checkpoint::Dec { dec, state, run_id }
        }
        Some("idec") => {
            let idec = weights::read_idec(&mut source)?;
            let lengths = state_lengths(&idec);
            let state = self_training_state(&mut source, &idec.dec, &dec_params, &lengths)?;
            Checkpoint::Idec {
                idec,
                state,
                run_id,
            }
        }
        other => {
            return Err(Error::data(
                &path,
                format!("unknown checkpoint phase {other:?}"),
            ));
        }
    };
    source.finish()?;
    Ok(Saved {
        args,
        checkpoint,
        data_dir,
        ae_weights,
    })
}

/// DEC's loop state (step, last labels, SGD velocities, target) from a DEC or IDEC
/// checkpoint, checked against the model `dec`: `lengths` are those of the model's
/// parameter tensors, in its walk's order.
fn self_training_state(
    source: &mut FileTensors<'_>,
    dec: &Dec,
    dec_params: &DecParams,
    lengths: &[usize],
) -> Result<DecState> {
    let (path, file) = (source.path(), source.file());
    let iter = number(path, file, "iter")? as usize;
    let labels = source
        .take("dec.last_labels")
        .ok_or_else(|| Error::data(path, "no tensor `dec.last_labels`"))?;
    let k = dec.clusters();
    if labels
        .data
        .iter()
        .any(|&l| !(l >= 0.0 && l < k as f32 && l.fract() == 0.0))
    {
        return Err(Error::data(
            path,
            format!("`dec.last_labels` holds a value that is not a cluster below {k}"),
        ));
    }
    let mut state = DecState::new(dec_params);
    state.iter = iter;
    state.last_labels = labels.data.iter().map(|&l| l as usize).collect();
    let velocity = read_state(source, "optim.velocity", lengths, false)?;
    state.optimizer.set_velocity(velocity);
    // The target's row count is checked against the data when training resumes.
    if let Some(target) = source.take("dec.target") {
        let n = target.shape.first().copied().unwrap_or(0);
        let finite = target.data.iter().all(|p| p.is_finite());
        if target.shape != [n, k] || n == 0 || !finite {
            return Err(Error::data(
                path,
                format!(
                    "`dec.target` has shape {:?}, expected [N, {k}]",
                    target.shape
                ),
            ));
        }
        state.target = Matrix::from_vec(n, k, target.data.clone());
    }
    Ok(state)
}

/// Checks every counter and size a checkpoint saved against the run that resumes from it:
/// `schedule`, the `n_fit` fit images of `width` values each, and `clusters` (None: chosen by
/// `--clusters auto`, so not known before the run). A
/// checkpoint that passes the file's own checks (CRC, shapes, finite values) but whose
/// counters lie would otherwise skip or repeat training, or panic on a wrong size. Each
/// message names the field.
pub fn validate(
    path: &Path,
    checkpoint: &Checkpoint,
    schedule: &Schedule,
    (n_fit, width): (usize, usize),
    clusters: Option<usize>,
) -> Result<()> {
    let bad = |problem: String| Err(Error::data(path, problem));
    match checkpoint {
        Checkpoint::Pretrain {
            epoch,
            mid,
            ae,
            optimizer,
            ..
        } => {
            let epochs = schedule.pretrain_epochs;
            // The batches of one epoch, as `Autoencoder::fit_until` cuts them.
            let batches = n_fit.div_ceil(schedule.pretrain_batch.min(n_fit).max(1));
            if ae.dims() != schedule.dims(width) {
                return bad(format!(
                    "checkpoint metadata `dims` is {:?}, the run's network is {:?}",
                    ae.dims(),
                    schedule.dims(width)
                ));
            }
            if *epoch > epochs {
                return bad(format!(
                    "checkpoint metadata `epoch` = {epoch}, beyond the run's {epochs} epochs"
                ));
            }
            let steps = mid.map_or(0, |m| m.steps);
            if mid.is_some() && (steps == 0 || steps >= batches || *epoch == epochs) {
                return bad(format!(
                    "checkpoint metadata `mid_steps` = {steps}, not inside epoch {} of \
                     {epochs} ({batches} batches an epoch)",
                    epoch + 1
                ));
            }
            if let Some(m) = mid
                && !m.loss_total.is_finite()
            {
                return bad("checkpoint metadata `mid_loss_total_bits` is not finite".into());
            }
            if let TrainOptimizer::Adam(adam) = optimizer {
                // Adam counts one step per batch.
                let expected = (*epoch as u64) * batches as u64 + steps as u64;
                if adam.iterations() != expected {
                    return bad(format!(
                        "checkpoint metadata `adam_iterations` = {}, expected {expected} \
                         after {epoch} epochs and {steps} steps of {batches} batches",
                        adam.iterations()
                    ));
                }
            }
        }
        Checkpoint::Dec { dec, state, .. } => {
            let max_iter = schedule.dec.max_iter;
            self_training(path, "DEC", dec, state, max_iter, (n_fit, width), clusters)?;
        }
        Checkpoint::Idec { idec, state, .. } => {
            let max_iter = schedule.idec.dec.max_iter;
            self_training(
                path,
                "IDEC",
                &idec.dec,
                state,
                max_iter,
                (n_fit, width),
                clusters,
            )?;
        }
    }
    Ok(())
}

/// The checks of a DEC or IDEC checkpoint (`method` names it in the messages): its K, its
/// input width, its step within `max_iter`, and one label and one target row per fit image
/// once the first target update is done.
fn self_training(
    path: &Path,
    method: &str,
    dec: &Dec,
    state: &DecState,
    max_iter: usize,
    (n_fit, width): (usize, usize),
    clusters: Option<usize>,
) -> Result<()> {
    let bad = |problem: String| Err(Error::data(path, problem));
    if let Some(clusters) = clusters.filter(|&k| dec.clusters() != k) {
        return bad(format!(
            "tensor `centres` holds {} clusters, the run has {clusters}",
            dec.clusters()
        ));
    }
    if dec.encoder.input_dim() != width {
        return bad(format!(
            "checkpoint metadata `dims` starts at {}, the images have {width} values",
            dec.encoder.input_dim()
        ));
    }
    if state.iter > max_iter {
        return bad(format!(
            "checkpoint metadata `iter` = {}, beyond {method}'s max_iter {max_iter}",
            state.iter
        ));
    }
    // Before the first target update (step 0) there are neither labels nor a
    // target; after it, one label and one target row per fit image.
    let (labels, rows) = if state.iter == 0 {
        (0, 0)
    } else {
        (n_fit, n_fit)
    };
    if state.last_labels.len() != labels {
        return bad(format!(
            "tensor `dec.last_labels` holds {} labels, expected {labels} at step {} \
             ({n_fit} fit images)",
            state.last_labels.len(),
            state.iter
        ));
    }
    if state.target.rows() != rows {
        return bad(format!(
            "tensor `dec.target` has {} rows, expected {rows} at step {} \
             ({n_fit} fit images)",
            state.target.rows(),
            state.iter
        ));
    }
    Ok(())
}
