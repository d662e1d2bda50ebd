//! Command-line parsing: defaults, both option forms, and one clear error per mistake.

use std::path::PathBuf;

use deepcluster::Error;
use deepcluster::cli::args::{
    Clusters, Colour, FolderOptions, Parsed, PredictMethod, PredictOptions, Preset, ProtocolArg,
    RunOptions, parse_predict, parse_run,
};

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn run(s: &str) -> RunOptions {
    match parse_run(&words(s)) {
        Ok(Parsed::Run(o)) => o,
        other => panic!("`{s}` parsed as {other:?}"),
    }
}

fn predict(s: &str) -> PredictOptions {
    match parse_predict(&words(s)) {
        Ok(Parsed::Predict(o)) => o,
        other => panic!("`{s}` parsed as {other:?}"),
    }
}

/// The error for `s`, checked to be an `Invalid` about `what`, on one line.
fn run_error(s: &str, what: &str) -> String {
    match parse_run(&words(s)) {
        Err(e @ Error::Invalid { .. }) => {
            let Error::Invalid { what: w, .. } = &e else {
                unreachable!()
            };
            assert_eq!(w, what, "`{s}`: {e}");
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "{msg}");
            msg
        }
        other => panic!("`{s}` should fail on {what}, got {other:?}"),
    }
}

#[test]
fn defaults() {
    let o = run("data/mnist");
    assert_eq!(
        o,
        RunOptions {
            data_dir: PathBuf::from("data/mnist"),
            method: "all",
            seed: 1,
            threads: None,
            epochs: None,
            batch_size: None,
            clusters: Clusters::Fixed(10),
            preset: Preset::Quick,
            protocol: ProtocolArg::Split,
            unlabelled: false,
            out: PathBuf::from("results"),
            quiet: false,
            ae_weights: None,
            resume: None,
            checkpoint_every: None,
            max_iter: None,
            neighbors: 10,
            umap_dims: None,
            overwrite: false,
            folder: FolderOptions::default(),
            augment: false,
        }
    );
}

#[test]
fn idec_and_augment() {
    let o = run("d --method idec --augment");
    assert_eq!((o.method, o.augment), ("idec", true));
    run_error("d --augment=yes", "--augment");
}

#[test]
fn n2d_options() {
    let o = run("d --method n2d --neighbors 20 --umap-dims 5");
    assert_eq!(o.method, "n2d");
    assert_eq!((o.neighbors, o.umap_dims), (20, Some(5)));
    for (bad, what) in [
        ("d --neighbors 1", "--neighbors"),
        ("d --neighbors 0", "--neighbors"),
        ("d --umap-dims 0", "--umap-dims"),
    ] {
        let msg = deepcluster::cli::args::parse_run(
            &bad.split_whitespace().map(String::from).collect::<Vec<_>>(),
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains(what) && !msg.contains('\n'), "{bad}: {msg}");
    }
}

#[test]
fn every_option_in_both_forms() {
    let spaced = run(
        "--method dec --seed 7 --threads 2 --epochs 3 --batch-size 64 \
         --clusters 4 --preset paper --protocol all --out o --quiet --ae-weights w.safetensors \
         --resume ck --checkpoint-every 5 --unlabelled d",
    );
    let joined = run(
        "d --method=dec --seed=7 --threads=2 --epochs=3 --batch-size=64 \
         --clusters=4 --preset=paper --protocol=all --out=o --quiet --ae-weights=w.safetensors \
         --resume=ck --checkpoint-every=5 --unlabelled",
    );
    assert_eq!(spaced, joined);
    assert_eq!(spaced.data_dir, PathBuf::from("d"));
    assert_eq!(spaced.method, "dec");
    assert_eq!(spaced.seed, 7);
    assert_eq!(spaced.threads, Some(2));
    assert_eq!(spaced.epochs, Some(3));
    assert_eq!(spaced.batch_size, Some(64));
    assert_eq!(spaced.clusters, Clusters::Fixed(4));
    assert_eq!(spaced.preset, Preset::Paper);
    assert_eq!(spaced.protocol, ProtocolArg::All);
    assert_eq!(spaced.out, PathBuf::from("o"));
    assert!(spaced.quiet);
    assert!(spaced.unlabelled);
    assert_eq!(spaced.ae_weights, Some(PathBuf::from("w.safetensors")));
    assert_eq!(spaced.resume, Some(PathBuf::from("ck")));
    assert_eq!(spaced.checkpoint_every, Some(5));
}

#[test]
fn every_method_name() {
    // The names come from the library's table; the help and the error list them all.
    for name in ["kmeans", "ae", "dec", "n2d", "idec", "all"] {
        assert_eq!(run(&format!("d --method {name}")).method, name);
    }
    let e = parse_run(&words("d --method everything")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--method: unknown method `everything`; expected kmeans, ae, dec, n2d, idec or all"
    );
    let Ok(Parsed::Help(help)) = parse_run(&words("--help")) else {
        panic!("no help")
    };
    assert!(help.contains(
        "  --method M            kmeans | ae | dec | n2d | idec | all: which pipeline to run; all is\n"
    ));
    assert_eq!(run("d --protocol split").protocol, ProtocolArg::Split);
    assert_eq!(run("d --preset quick").preset, Preset::Quick);
    for p in [Preset::Quick, Preset::Paper] {
        assert_eq!(run(&format!("d --preset {}", p.as_str())).preset, p);
    }
    for p in [ProtocolArg::Split, ProtocolArg::All] {
        assert_eq!(run(&format!("d --protocol {}", p.as_str())).protocol, p);
    }
}

#[test]
fn help_describes_every_option_with_its_default() {
    for form in ["--help", "-h", "d --seed 3 --help"] {
        let Ok(Parsed::Help(text)) = parse_run(&words(form)) else {
            panic!("{form}: no help");
        };
        for opt in [
            "--method",
            "--seed",
            "--threads",
            "--epochs",
            "--batch-size",
            "--clusters",
            "--preset",
            "--protocol",
            "--out",
            "--quiet",
            "--ae-weights",
            "--resume",
            "--checkpoint-every",
            "--max-iter",
            "--unlabelled",
            "--image-size",
            "--colour",
            "--skip-unreadable",
            "--opt=value",
        ] {
            assert!(text.contains(opt), "help lacks {opt}");
        }
        assert!(text.contains("[default: all]"));
        assert!(text.contains("[default: 10]"));
        assert!(text.contains("[default: 1]"));
        assert!(text.contains("[default: results]"));
    }
    let Ok(Parsed::Help(text)) = parse_predict(&words("--help")) else {
        panic!("predict: no help");
    };
    for opt in [
        "--model",
        "--out",
        "--threads",
        "--quiet",
        "--image-size",
        "--colour",
        "--skip-unreadable",
    ] {
        assert!(text.contains(opt), "predict help lacks {opt}");
    }
}

/// `--image-size WxH`, `--colour grey|rgb` and `--skip-unreadable`, for both commands;
/// each impossible value is one line naming the option.
#[test]
fn folder_options() {
    let o = run("d --image-size 32x24 --colour rgb --skip-unreadable");
    assert_eq!(
        o.folder,
        FolderOptions {
            size: Some((32, 24)),
            colour: Colour::Rgb,
            skip_unreadable: true,
        }
    );
    assert_eq!(
        run("d --image-size=5X7 --colour=grey").folder.size,
        Some((5, 7))
    );
    assert_eq!(run("d --colour gray").folder.colour, Colour::Grey);
    for (bad, what, says) in [
        ("d --image-size 0x5", "--image-size", "at least 1"),
        ("d --image-size 5x0", "--image-size", "at least 1"),
        ("d --image-size abc", "--image-size", "`abc` is not WxH"),
        ("d --image-size 28", "--image-size", "not WxH"),
        ("d --image-size 28x", "--image-size", "not WxH"),
        ("d --image-size -3x4", "--image-size", "not WxH"),
        ("d --image-size +3x4", "--image-size", "not WxH"),
        ("d --image-size 3x4x5", "--image-size", "not WxH"),
        ("d --image-size 70000x2", "--image-size", "at most 65536"),
        (
            "d --image-size 99999999999999999999x2",
            "--image-size",
            "at most",
        ),
        ("d --colour cmyk", "--colour", "grey or rgb"),
        ("d --colour", "--colour", "missing value"),
        (
            "d --skip-unreadable=yes",
            "--skip-unreadable",
            "takes no value",
        ),
    ] {
        assert!(run_error(bad, what).contains(says), "{bad}");
    }
    let p = predict("d --model m --image-size 28x28 --colour rgb --skip-unreadable");
    assert_eq!(
        (p.image_size, p.colour, p.skip_unreadable),
        (Some((28, 28)), Some(Colour::Rgb), true)
    );
    for (args, what) in [
        ("d --model m --image-size 0x1", "--image-size"),
        ("d --model m --colour blue", "--colour"),
    ] {
        match parse_predict(&words(args)) {
            Err(Error::Invalid { what: w, .. }) => assert_eq!(w, what, "{args}"),
            other => panic!("{args}: {other:?}"),
        }
    }
}

#[test]
fn unknown_option() {
    let msg = run_error("d --sed 3", "--sed");
    assert!(msg.contains("unknown option"), "{msg}");
    run_error("d -x", "-x");
    run_error("d --sed=3", "--sed");
}

#[test]
fn missing_values() {
    assert!(run_error("d --seed", "--seed").contains("missing value"));
    assert!(run_error("d --out --quiet", "--out").contains("missing value"));
    assert!(run_error("d --out=", "--out").contains("missing value"));
    assert!(run_error("--method", "--method").contains("missing value"));
}

#[test]
fn bad_numbers() {
    for opt in [
        "--seed",
        "--threads",
        "--epochs",
        "--batch-size",
        "--clusters",
        "--checkpoint-every",
    ] {
        for bad in ["abc", "-3", "1.5", "", "99999999999999999999999"] {
            let msg = run_error(&format!("d {opt}={bad}"), opt);
            assert!(
                msg.contains("not a non-negative whole number") || msg.contains("missing value"),
                "{msg}"
            );
        }
    }
}

#[test]
fn zero_counts_are_refused() {
    for opt in [
        "--threads",
        "--epochs",
        "--batch-size",
        "--clusters",
        "--checkpoint-every",
    ] {
        let msg = run_error(&format!("d {opt} 0"), opt);
        assert!(msg.contains("at least 1"), "{msg}");
    }
    // A seed of zero is a perfectly good seed.
    assert_eq!(run("d --seed 0").seed, 0);
}

#[test]
fn unknown_names() {
    assert!(run_error("d --method svm", "--method").contains("`svm`"));
    assert!(run_error("d --preset slow", "--preset").contains("quick or paper"));
    assert!(run_error("d --protocol half", "--protocol").contains("split or all"));
}

#[test]
fn data_dir_is_required_once() {
    assert!(run_error("--seed 2", "DATA_DIR").contains("missing"));
    assert!(run_error("a b", "arguments").contains("`b`"));
    run_error("d --quiet=yes", "--quiet");
    run_error("d --unlabelled=yes", "--unlabelled");
}

#[test]
fn predict_options() {
    let o = predict("data/mnist --model results");
    assert_eq!(
        o,
        PredictOptions {
            data_dir: PathBuf::from("data/mnist"),
            model: PathBuf::from("results"),
            out: PathBuf::from("results"),
            threads: None,
            quiet: false,
            image_size: None,
            colour: None,
            skip_unreadable: false,
            method: None,
        }
    );
    assert_eq!(
        predict("d --model m --method n2d").method,
        Some(PredictMethod::N2d)
    );
    assert_eq!(
        predict("d --model m --method=idec").method,
        Some(PredictMethod::Idec)
    );
    let e = parse_predict(&words("d --model m --method kmeans")).unwrap_err();
    assert!(e.to_string().contains("--method"), "{e}");
    let o = predict("--model=m --out=p --threads=3 --quiet d");
    assert_eq!(o.model, PathBuf::from("m"));
    assert_eq!(o.out, PathBuf::from("p"));
    assert_eq!(o.threads, Some(3));
    assert!(o.quiet);
    for (args, what) in [
        ("d", "--model"),
        ("--model m", "DATA_DIR"),
        ("d --model m --threads 0", "--threads"),
        ("d --model m --method all", "--method"),
        ("d --model", "--model"),
    ] {
        match parse_predict(&words(args)) {
            Err(Error::Invalid { what: w, .. }) => assert_eq!(w, what, "{args}"),
            other => panic!("{args}: {other:?}"),
        }
    }
}

#[test]
fn clusters_auto_and_its_range() {
    assert_eq!(run("d --clusters auto").clusters, Clusters::AUTO);
    assert_eq!(
        Clusters::AUTO,
        Clusters::Auto { min: 2, max: 20 },
        "the default range"
    );
    assert_eq!(
        run("d --clusters=auto:3-12").clusters,
        Clusters::Auto { min: 3, max: 12 }
    );
    assert_eq!(run("d --clusters 7").clusters, Clusters::Fixed(7));
    for bad in [
        "d --clusters auto:1-5",
        "d --clusters auto:0-5",
        "d --clusters auto:5-3",
        "d --clusters auto:5-5",
        "d --clusters auto:",
        "d --clusters auto:2-",
        "d --clusters auto:-9",
        "d --clusters auto:2-x",
        "d --clusters auto2-9",
        "d --clusters automatic",
        "d --clusters 0",
        "d --clusters ten",
    ] {
        run_error(bad, "--clusters");
    }
}
