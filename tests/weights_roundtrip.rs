//! The parameter protocol end to end: every model's two walks agree, a model file or a
//! checkpoint saved, loaded (the network built from the file) and saved again is the same
//! file to the byte, and a file with a missing, an extra or a misshapen tensor is a
//! one-line error naming the file and the tensor.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use deepcluster::cluster::{Dec, DecParams, DecState, Idec, IdecParams};
use deepcluster::experiment::checkpoint::{self, Checkpoint};
use deepcluster::experiment::identity::RunId;
use deepcluster::experiment::{Snapshot, TrainOptimizer};
use deepcluster::io::safetensors::{self, CRC_KEY};
use deepcluster::io::weights::{self, ImageShape};
use deepcluster::linalg::Matrix;
use deepcluster::nn::{
    Activation, Adam, Autoencoder, Dense, FitConfig, Init, MidEpoch, Mlp, Nesterov, Parameters, Sgd,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A fresh folder under the system's temporary one, unique to this process and `name`.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "deepcluster-roundtrip-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 40 images of 12 values, and a 12-8-3 autoencoder trained on them for 2 epochs of Adam
/// (so that no bias is still zero and Adam has state), with that Adam.
fn trained() -> (Matrix, Autoencoder, Adam) {
    let mut rng = StdRng::seed_from_u64(7);
    let x = Matrix::from_fn(40, 12, |_, _| rng.random_range(0.0..1.0));
    let mut ae = Autoencoder::new(
        &[12, 8, 3],
        Activation::Identity,
        Activation::Sigmoid,
        Init::GlorotUniform,
        &mut rng,
    )
    .unwrap();
    let mut adam = Adam::new(0.01);
    let cfg = FitConfig::new(2, 16, 3);
    ae.fit(&x, &cfg, &mut adam, &mut |_| ControlFlow::Continue(()))
        .unwrap();
    (x, ae, adam)
}

fn dec_params() -> DecParams {
    DecParams {
        batch_size: 16,
        update_interval: 3,
        max_iter: 5,
        tol: 0.0,
        ..DecParams::default()
    }
}

/// DEC and IDEC trained 5 steps from the autoencoder, with their states.
fn self_trained() -> (Dec, DecState, Idec, DecState) {
    let (x, ae, _) = trained();
    let centres = ae.encoder.predict(&x.select_rows(&[0, 10, 20]));
    let params = dec_params();
    let mut dec = Dec::new(ae.encoder.clone(), centres.clone(), 1.0);
    let mut state = DecState::new(&params);
    dec.fit(&x, &params, &mut state, &mut |_| ControlFlow::Continue(()))
        .unwrap();
    let idec_params = IdecParams {
        dec: DecParams {
            learning_rate: 0.1,
            ..params
        },
        gamma: 0.1,
    };
    let mut idec = Idec::new(ae, centres, 1.0);
    let mut idec_state = DecState::new(&idec_params.dec);
    idec.fit(&x, &idec_params, &mut idec_state, &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    (dec, state, idec, idec_state)
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// The names of `visit` and of `visit_mut`, and the lengths of `named_params` and of
/// `params_mut`: the same lists, so weights, checkpoints and optimisers see one order.
fn walks(model: &mut impl Parameters) -> (Vec<String>, Vec<usize>) {
    let mut shared = Vec::new();
    model.visit("p.", &mut |name, _, _| shared.push(name));
    let mut exclusive = Vec::new();
    model.visit_mut("p.", &mut |name, _, _| exclusive.push(name));
    assert_eq!(shared, exclusive, "visit and visit_mut disagree");
    let named: Vec<(String, usize)> = model
        .named_params()
        .iter()
        .map(|(n, m)| (n.clone(), m.as_slice().len()))
        .collect();
    let grads: Vec<(String, usize)> = model
        .named_grads()
        .iter()
        .map(|(n, m)| (n.clone(), m.as_slice().len()))
        .collect();
    assert_eq!(
        named, grads,
        "a gradient's shape differs from its parameter's"
    );
    let stepped: Vec<usize> = model.params_mut().iter().map(|p| p.value.len()).collect();
    let lengths: Vec<usize> = named.iter().map(|(_, l)| *l).collect();
    assert_eq!(stepped, lengths, "params_mut is not named_params' order");
    let unprefixed: Vec<String> = named.into_iter().map(|(n, _)| n).collect();
    let prefixed: Vec<String> = unprefixed.iter().map(|n| format!("p.{n}")).collect();
    assert_eq!(shared, prefixed, "the prefix is not put before every name");
    (unprefixed, lengths)
}

#[test]
fn every_model_walks_one_list_of_names_in_one_order() {
    let (_, mut ae, _) = trained();
    let (dec, _, idec, _) = self_trained();
    let (mut dec, mut idec) = (dec.clone(), idec.clone());
    let mut dense = ae.encoder.layers()[0].clone();
    assert_eq!(walks(&mut dense).0, ["weight", "bias"]);
    let (names, lengths) = walks(&mut ae.encoder);
    assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias"]);
    assert_eq!(lengths, [96, 8, 24, 3]);
    let ae_names = walks(&mut ae).0;
    assert_eq!(ae_names[0], "encoder.0.weight");
    assert_eq!(ae_names[4], "decoder.0.weight");
    assert_eq!(ae_names.len(), 8);
    let (names, lengths) = walks(&mut dec);
    assert_eq!(names.last().unwrap(), "centres");
    assert_eq!(names.len(), 5);
    assert_eq!(*lengths.last().unwrap(), 9);
    let (names, _) = walks(&mut idec);
    let mut expected = ae_names.clone();
    expected.push("centres".into());
    assert_eq!(names, expected);
}

#[test]
fn set_param_goes_through_the_walk() {
    let (_, mut ae, _) = trained();
    ae.set_param("decoder.1.bias", Matrix::filled(1, 12, 0.5))
        .unwrap();
    assert!(
        ae.decoder.layers()[1]
            .bias
            .as_slice()
            .iter()
            .all(|&v| v == 0.5)
    );
    let wrong = ae.set_param("encoder.0.weight", Matrix::zeros(12, 7));
    assert!(wrong.unwrap_err().to_string().contains("encoder.0.weight"));
    let unknown = ae.set_param("encoder.2.weight", Matrix::zeros(1, 1));
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .contains("encoder.2.weight")
    );
}

#[test]
fn constructors_from_parts_check_shapes() {
    let w = Matrix::filled(3, 2, 0.25);
    let dense = Dense::from_parts(w.clone(), Matrix::filled(1, 2, -1.0)).unwrap();
    assert_eq!((dense.input_dim(), dense.output_dim()), (3, 2));
    assert_eq!(dense.dweight.shape(), (3, 2));
    let bad = Dense::from_parts(w.clone(), Matrix::zeros(1, 3)).unwrap_err();
    assert!(bad.to_string().contains("bias"), "{bad}");
    assert!(Dense::from_parts(Matrix::zeros(0, 2), Matrix::zeros(1, 2)).is_err());

    let second = Dense::from_parts(Matrix::zeros(2, 4), Matrix::zeros(1, 4)).unwrap();
    let acts = vec![Activation::Relu, Activation::Identity];
    let mlp = Mlp::from_layers(vec![dense.clone(), second.clone()], acts.clone()).unwrap();
    assert_eq!(mlp.dims(), [3, 2, 4]);
    // y = relu(x W + b) with W all 0.25 and b all -1: x = [4, 4, 4] gives 3 - 1 = 2.
    let y = mlp.layers()[0].clone();
    let one = Mlp::from_layers(vec![y], vec![Activation::Relu]).unwrap();
    assert_eq!(
        one.predict(&Matrix::filled(1, 3, 4.0)).as_slice(),
        [2.0, 2.0]
    );
    let broken = Mlp::from_layers(vec![second.clone(), dense.clone()], acts.clone());
    assert!(broken.unwrap_err().to_string().contains("layer 1"));
    assert!(Mlp::from_layers(vec![dense.clone()], acts.clone()).is_err());
    assert!(Mlp::from_layers(Vec::new(), Vec::new()).is_err());

    // A decoder 4 -> 2 -> 3 mirrors the encoder 3 -> 2 -> 4; the encoder itself does not.
    let decoder = Mlp::from_layers(
        vec![
            Dense::from_parts(Matrix::zeros(4, 2), Matrix::zeros(1, 2)).unwrap(),
            Dense::from_parts(Matrix::zeros(2, 3), Matrix::zeros(1, 3)).unwrap(),
        ],
        acts.clone(),
    )
    .unwrap();
    let ae = Autoencoder::from_parts(mlp.clone(), decoder).unwrap();
    assert!(Autoencoder::from_parts(mlp.clone(), mlp.clone()).is_err());
    assert!(Dec::from_parts(mlp.clone(), Matrix::zeros(2, 4), 1.0).is_ok());
    let centres = Dec::from_parts(mlp.clone(), Matrix::zeros(2, 3), 1.0).unwrap_err();
    assert!(centres.to_string().contains("centres"), "{centres}");
    assert!(Dec::from_parts(mlp.clone(), Matrix::zeros(0, 4), 1.0).is_err());
    assert!(Dec::from_parts(mlp, Matrix::zeros(2, 4), 0.0).is_err());
    assert!(Idec::from_parts(ae, Matrix::zeros(5, 4), 1.0).is_ok());
}

/// Saves, loads (building the model from the file) and saves again: the same bytes.
#[test]
fn model_files_load_and_save_to_the_same_bytes() {
    let dir = folder("models");
    let (_, ae, _) = trained();
    let (dec, _, idec, _) = self_trained();
    let image = ImageShape {
        height: 3,
        width: 4,
        channels: 1,
    };
    let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));

    weights::save_autoencoder(&a, &ae).unwrap();
    weights::save_autoencoder(&b, &weights::load_autoencoder(&a).unwrap()).unwrap();
    assert_eq!(bytes(&a), bytes(&b), "ae");

    weights::save_dec_for(&a, &dec, &image).unwrap();
    let (loaded, shape) = weights::load_dec_with_image(&a).unwrap();
    assert_eq!(shape, Some(image));
    weights::save_dec_for(&b, &loaded, &image).unwrap();
    assert_eq!(bytes(&a), bytes(&b), "dec");
    assert_eq!(loaded.alpha, dec.alpha);

    weights::save_idec(&a, &idec).unwrap();
    let loaded = weights::load_idec(&a).unwrap();
    weights::save_idec(&b, &loaded).unwrap();
    assert_eq!(bytes(&a), bytes(&b), "idec");
    // The IDEC file read as an autoencoder (its centres skipped) is IDEC's autoencoder.
    let ae_of_idec = weights::load_autoencoder(&a).unwrap();
    weights::save_autoencoder(&b, &ae_of_idec).unwrap();
    let again = weights::load_autoencoder(&b).unwrap();
    assert_eq!(
        again
            .named_params()
            .iter()
            .map(|(n, _)| n.clone())
            .collect::<Vec<_>>(),
        ae.named_params()
            .iter()
            .map(|(n, _)| n.clone())
            .collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The optimiser of the saved command line, for `checkpoint::load`.
fn template(
    optimizer: TrainOptimizer,
) -> impl FnOnce(&[String]) -> deepcluster::Result<(TrainOptimizer, DecParams)> {
    move |_| Ok((optimizer, dec_params()))
}

#[test]
fn checkpoints_load_and_save_to_the_same_bytes() {
    let args = vec!["run".to_string(), "--seed".to_string(), "3".to_string()];
    let (x, ae, adam) = trained();
    let (first, second) = (folder("ck-a"), folder("ck-b"));
    let same = || {
        assert_eq!(
            bytes(&checkpoint::path(&first)),
            bytes(&checkpoint::path(&second))
        )
    };

    // Pretraining with Adam, after epoch 2.
    let optimizer = TrainOptimizer::Adam(adam);
    checkpoint::save_pretrain(&first, &args, None, (2, None), &ae, &optimizer).unwrap();
    let saved = checkpoint::load(&first, template(TrainOptimizer::Adam(Adam::new(0.01)))).unwrap();
    let Checkpoint::Pretrain {
        epoch,
        mid,
        ae: loaded,
        optimizer,
        ..
    } = saved.checkpoint
    else {
        panic!("not a pretraining checkpoint")
    };
    checkpoint::save_pretrain(
        &second,
        &saved.args,
        None,
        (epoch, mid),
        &loaded,
        &optimizer,
    )
    .unwrap();
    same();

    // Pretraining with SGD, stopped one batch into epoch 2.
    let mut sgd = Sgd::new(0.1, 0.9, Nesterov::Yes);
    let mut ae2 = ae.clone();
    ae2.fit(&x, &FitConfig::new(1, 16, 4), &mut sgd, &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    let mid = MidEpoch {
        steps: 1,
        loss_total: 0.123456789,
    };
    let optimizer = TrainOptimizer::Sgd(sgd);
    checkpoint::save_pretrain(&first, &args, None, (1, Some(mid)), &ae2, &optimizer).unwrap();
    let fresh = TrainOptimizer::Sgd(Sgd::new(0.1, 0.9, Nesterov::Yes));
    let saved = checkpoint::load(&first, template(fresh)).unwrap();
    let Checkpoint::Pretrain {
        epoch,
        mid,
        ae: loaded,
        optimizer,
        ..
    } = saved.checkpoint
    else {
        panic!("not a pretraining checkpoint")
    };
    assert_eq!(
        mid.map(|m| m.loss_total.to_bits()),
        Some(0.123456789f64.to_bits())
    );
    checkpoint::save_pretrain(
        &second,
        &saved.args,
        None,
        (epoch, mid),
        &loaded,
        &optimizer,
    )
    .unwrap();
    same();

    // DEC, after 5 steps (velocities, labels and target), and before its first step.
    let (dec, state, idec, idec_state) = self_trained();
    for state in [state, DecState::new(&dec_params())] {
        checkpoint::save_dec(&first, &args, &dec, &state).unwrap();
        let saved =
            checkpoint::load(&first, template(TrainOptimizer::Adam(Adam::new(0.01)))).unwrap();
        let Checkpoint::Dec {
            dec: loaded,
            state: loaded_state,
            ..
        } = saved.checkpoint
        else {
            panic!("not a DEC checkpoint")
        };
        assert_eq!(loaded_state.iter, state.iter);
        checkpoint::save_dec(&second, &saved.args, &loaded, &loaded_state).unwrap();
        same();
    }

    // IDEC, with a run identity.
    let run = RunId {
        id: "0123456789abcdef".into(),
        data_dir: std::env::temp_dir(),
        ae_weights: None,
    };
    let snapshot = Snapshot::Idec {
        idec: &idec,
        state: &idec_state,
        run: &run,
    };
    checkpoint::save(&first, &args, &snapshot).unwrap();
    let saved = checkpoint::load(&first, template(TrainOptimizer::Adam(Adam::new(0.01)))).unwrap();
    assert_eq!(saved.checkpoint.run_id(), Some(run.id.as_str()));
    let Checkpoint::Idec {
        idec: loaded,
        state: loaded_state,
        ..
    } = saved.checkpoint
    else {
        panic!("not an IDEC checkpoint")
    };
    let snapshot = Snapshot::Idec {
        idec: &loaded,
        state: &loaded_state,
        run: &run,
    };
    checkpoint::save(&second, &saved.args, &snapshot).unwrap();
    same();
    let _ = std::fs::remove_dir_all(&first);
    let _ = std::fs::remove_dir_all(&second);
}

/// Rewrites the safetensors file `path` with its tensors passed through `edit` (a new CRC).
fn rewrite(path: &Path, edit: impl FnOnce(&mut Tensors)) {
    let file = safetensors::load(path).unwrap();
    let mut tensors: Tensors = file
        .tensors
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone(), t.data.clone()))
        .collect();
    edit(&mut tensors);
    let t: Vec<(&str, &[usize], &[f32])> = tensors
        .iter()
        .map(|(n, s, d)| (n.as_str(), s.as_slice(), d.as_slice()))
        .collect();
    let m: Vec<(&str, &str)> = file
        .metadata
        .iter()
        .filter(|(k, _)| k != CRC_KEY)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    safetensors::save(path, &t, &m).unwrap();
}

/// The error is one line naming the file and every one of `words`.
fn names_all(error: deepcluster::Error, path: &Path, words: &[&str]) {
    let text = error.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    for word in words {
        assert!(text.contains(word), "`{word}` not in: {text}");
    }
}

type Tensors = Vec<(String, Vec<usize>, Vec<f32>)>;
type Edit = fn(&mut Tensors);
type Boxed = Box<dyn Fn(&mut Tensors)>;

#[test]
fn a_missing_extra_or_misshapen_tensor_is_named() {
    let dir = folder("bad");
    let (_, ae, _) = trained();
    let (dec, state, idec, _) = self_trained();
    let path = dir.join("m.safetensors");
    let drop_it =
        |name: &'static str| -> Boxed { Box::new(move |t| t.retain(|(n, _, _)| n != name)) };
    let add: Edit = |t| t.push(("extra.weight".into(), vec![2], vec![0.0, 1.0]));
    let reshape = |name: &'static str| -> Boxed {
        Box::new(move |t| {
            let (_, shape, data) = t.iter_mut().find(|(n, _, _)| n == name).unwrap();
            *shape = vec![data.len()];
        })
    };

    let cases: Vec<(&str, &str, Boxed, &[&str])> = vec![
        (
            "ae",
            "decoder.1.bias",
            drop_it("decoder.1.bias"),
            &["no tensor", "decoder.1.bias"],
        ),
        (
            "ae",
            "extra.weight",
            Box::new(add),
            &["extra.weight", "not part"],
        ),
        (
            "ae",
            "encoder.0.weight",
            reshape("encoder.0.weight"),
            &["encoder.0.weight", "shape"],
        ),
        ("dec", "centres", drop_it("centres"), &["centres"]),
        (
            "dec",
            "1.weight",
            reshape("1.weight"),
            &["1.weight", "shape"],
        ),
        (
            "dec",
            "extra.weight",
            Box::new(add),
            &["extra.weight", "not part"],
        ),
        (
            "idec",
            "decoder.0.weight",
            drop_it("decoder.0.weight"),
            &["decoder.0.weight"],
        ),
        (
            "idec",
            "extra.weight",
            Box::new(add),
            &["extra.weight", "not part"],
        ),
    ];
    for (kind, what, edit, words) in cases {
        match kind {
            "ae" => weights::save_autoencoder(&path, &ae).unwrap(),
            "dec" => weights::save_dec(&path, &dec).unwrap(),
            _ => weights::save_idec(&path, &idec).unwrap(),
        }
        rewrite(&path, |t| edit(t));
        let error = match kind {
            "ae" => weights::load_autoencoder(&path).err(),
            "dec" => weights::load_dec(&path).err(),
            _ => weights::load_idec(&path).err(),
        };
        let error = error.unwrap_or_else(|| panic!("{kind} without a good `{what}` loaded"));
        names_all(error, &path, words);
    }

    // Checkpoints: the optimiser state is matched to the model's walk, tensor by tensor.
    let args = vec!["run".to_string()];
    let ck = checkpoint::path(&dir);
    let load = |optimizer: TrainOptimizer| checkpoint::load(&dir, template(optimizer)).err();
    let adam = || TrainOptimizer::Adam(Adam::new(0.01));
    let (_, _, trained_adam) = trained();
    let saved_adam = TrainOptimizer::Adam(trained_adam);
    let ck_cases: Vec<(Edit, &[&str])> = vec![
        (|t| t.retain(|(n, _, _)| n != "optim.v.5"), &["optim.v.5"]),
        (
            |t| t.push(("optim.m.8".into(), vec![1], vec![0.0])),
            &["optim.m.8", "not part"],
        ),
        (
            |t| {
                let (_, shape, data) = t.iter_mut().find(|(n, _, _)| n == "optim.m.2").unwrap();
                data.pop();
                *shape = vec![data.len()];
            },
            &["optim.m.2", "shape"],
        ),
        (
            |t| t.retain(|(n, _, _)| n != "model.encoder.1.bias"),
            &["model.encoder.1.bias"],
        ),
    ];
    for (edit, words) in ck_cases {
        checkpoint::save_pretrain(&dir, &args, None, (2, None), &ae, &saved_adam).unwrap();
        rewrite(&ck, edit);
        names_all(
            load(adam()).expect("a broken checkpoint loaded"),
            &ck,
            words,
        );
    }
    let dec_cases: Vec<(Edit, &[&str])> = vec![
        (
            |t| t.retain(|(n, _, _)| n != "optim.velocity.4"),
            &["optim.velocity.4"],
        ),
        (
            |t| t.push(("optim.velocity.5".into(), vec![1], vec![0.0])),
            &["optim.velocity.5"],
        ),
        (
            |t| t.push(("dec.extra".into(), vec![1], vec![0.0])),
            &["dec.extra", "not part"],
        ),
    ];
    for (edit, words) in dec_cases {
        checkpoint::save_dec(&dir, &args, &dec, &state).unwrap();
        rewrite(&ck, edit);
        names_all(
            load(adam()).expect("a broken checkpoint loaded"),
            &ck,
            words,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
