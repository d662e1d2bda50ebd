//! The shipped `data/mnist`: the article's layout, 49,000 + 21,000 images of 28x28, the
//! ordered 34,300 / 14,700 split, and the same pixels as MNIST's IDX files.

use std::path::{Path, PathBuf};

use deepcluster::data::{self, Protocol};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn shipped_mnist_has_the_article_layout_and_split() {
    let dir = root().join("data/mnist");
    let labelled = data::load_labelled(&dir, Protocol::Split).unwrap();
    let unlabelled = data::load_unlabelled(&dir).unwrap();
    assert_eq!(labelled.fit.images.shape(), (34_300, 784));
    assert_eq!(labelled.validation.images.shape(), (14_700, 784));
    assert_eq!(unlabelled.images.shape(), (21_000, 784));
    assert_eq!((labelled.fit.height, labelled.fit.width), (28, 28));
    assert_eq!(labelled.fit.filenames[0], "0.png");
    assert_eq!(labelled.validation.filenames[0], "34300.png");
    assert_eq!(unlabelled.filenames[0], "49000.png");
    assert_eq!(unlabelled.filenames[20_999], "69999.png");
    assert_eq!(unlabelled.labels, None);

    // Every digit occurs, in MNIST's proportions (each class is 9-11% of the data).
    let mut counts = [0usize; 10];
    for &l in labelled.fit.labels.as_ref().unwrap() {
        counts[l as usize] += 1;
    }
    for (digit, &c) in counts.iter().enumerate() {
        assert!((3_000..4_000).contains(&c), "digit {digit}: {c}");
    }

    // The first 147 / 63 images are the fixture's (which tests/data_load.rs ties to IDX).
    let fixture = data::load_labelled(&root().join("fixtures/article"), Protocol::All).unwrap();
    let n = fixture.fit.len();
    assert_eq!(
        labelled.fit.images.rows_range(0..n).to_matrix(),
        fixture.fit.images
    );
    assert_eq!(
        &labelled.fit.labels.as_ref().unwrap()[..n],
        &fixture.fit.labels.unwrap()[..]
    );

    // Where MNIST's IDX files are at hand (CI has ../shared), all 70,000 must agree.
    let idx_dir = std::env::var_os("MNIST_IDX_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/data/mnist"));
    if !idx_dir.is_dir() {
        eprintln!(
            "SKIPPED: comparison with IDX files ({} absent)",
            idx_dir.display()
        );
        return;
    }
    let from_idx = data::load_labelled(&idx_dir, Protocol::Split).unwrap();
    assert!(
        from_idx == labelled,
        "data/mnist differs from the IDX files"
    );
    assert!(data::load_unlabelled(&idx_dir).unwrap() == unlabelled);
}
