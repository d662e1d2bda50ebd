//! Montages and the gallery of a folder of images show the original files (issue 17): in
//! colour when they are, even when the network was given small grey inputs; at the tile
//! and thumbnail sizes of `report::tiles`, not the network's; the same files whatever the
//! number of threads; and a source removed after loading falls back to its network input
//! without a panic, reported once.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{png_bytes, root, temp_dir};
use deepcluster::data::decode::{self, Colour as DecodeColour};
use deepcluster::data::{Colour as InputColour, Folder, FolderOptions, load_folder};
use deepcluster::report::gallery::{Gallery, write_gallery};
use deepcluster::report::montage::{
    ClusterPictures, montage_tile_at, overview_tile_at, write_montages,
};
use deepcluster::report::raster::{Channels, Colour, Image, load_png};
use deepcluster::report::tiles::{ORIGINAL_TILE, THUMBNAIL_SIDE, unreadable_warning};

/// The flat colours of the RGB fixtures.
const RED: [u8; 3] = [200, 30, 60];
const BLUE: [u8; 3] = [10, 120, 220];
/// The frame drawn around every tile (montage.rs's FRAME).
const FRAME: Colour = Colour::grey(130);

fn flat_rgb(path: &Path, (w, h): (usize, usize), rgb: [u8; 3]) {
    let data: Vec<u8> = (0..w * h).flat_map(|_| rgb).collect();
    fs::write(path, png_bytes((w, h), png::ColorType::Rgb, &data, None)).unwrap();
}

fn flat_grey(path: &Path, (w, h): (usize, usize), v: u8) {
    fs::write(
        path,
        png_bytes((w, h), png::ColorType::Grayscale, &vec![v; w * h], None),
    )
    .unwrap();
}

/// A folder, in path order: a.png 40x30 red, b.png 300x200 blue, c.png 50x50 grey 90,
/// d.jpg (fixtures/jpeg/mixed.jpg, a 35x21 YCbCr photo), e.png 40x30 red again. Loaded
/// grey at 6x4, so the network's inputs are nothing like the originals.
fn folder(name: &str) -> (PathBuf, Folder) {
    let dir = temp_dir(name);
    flat_rgb(&dir.join("a.png"), (40, 30), RED);
    flat_rgb(&dir.join("b.png"), (300, 200), BLUE);
    flat_grey(&dir.join("c.png"), (50, 50), 90);
    fs::copy(root().join("fixtures/jpeg/mixed.jpg"), dir.join("d.jpg")).unwrap();
    flat_rgb(&dir.join("e.png"), (40, 30), RED);
    let options = FolderOptions {
        size: Some((6, 4)),
        colour: InputColour::Grey,
        skip_unreadable: false,
    };
    let f = load_folder(&dir, &options).unwrap();
    assert_eq!((f.dataset.width, f.dataset.height, f.channels), (6, 4, 1));
    assert_eq!(f.sources.len(), 5);
    (dir, f)
}

/// Cluster 0: the red and blue photos (a, b, e; a most confident); cluster 1: the grey
/// PNG and the JPEG (c first).
const ASSIGNMENT: [usize; 5] = [0, 0, 1, 1, 0];
const CONFIDENCE: [f32; 5] = [0.9, 0.5, 0.9, 0.5, 0.1];

fn pictures(f: &Folder) -> ClusterPictures<'_> {
    ClusterPictures {
        images: &f.dataset.images,
        height: f.dataset.height,
        width: f.dataset.width,
        channels: f.channels,
        assignment: &ASSIGNMENT,
        confidence: &CONFIDENCE,
        labels: None,
        clusters: 2,
        originals: Some(&f.sources),
    }
}

fn names(f: &Folder) -> Vec<String> {
    f.dataset.filenames.clone()
}

/// Every pixel of the `side` x `side` tile at `(x0, y0)` in `img` is `c`, and the frame
/// is right outside it: the tile is exactly that size.
fn assert_flat_tile(img: &Image, (x0, y0): (usize, usize), side: usize, c: Colour, what: &str) {
    for y in 0..side {
        for x in 0..side {
            assert_eq!(img.get(x0 + x, y0 + y), c, "{what} ({x}, {y})");
        }
    }
    assert_eq!(img.get(x0 - 1, y0), FRAME, "{what}: frame on the left");
    assert_eq!(img.get(x0 + side, y0), FRAME, "{what}: frame on the right");
    assert_eq!(img.get(x0, y0 + side), FRAME, "{what}: frame below");
}

#[test]
fn a_grey_run_draws_the_colour_originals_at_the_tile_size() {
    let (dir, f) = folder("orig-montage");
    let m = write_montages(dir.join("out"), &pictures(&f)).unwrap();
    assert!(m.unreadable.is_empty());
    let tile = (ORIGINAL_TILE, ORIGINAL_TILE);
    assert_eq!(m.clusters[0].shown, [0, 1, 4]);
    let red = Colour::rgb(RED[0], RED[1], RED[2]);
    let blue = Colour::rgb(BLUE[0], BLUE[1], BLUE[2]);
    // Cluster 0 is in colour: the flat photos stay flat through the area filter.
    let img = load_png(&m.clusters[0].montage).unwrap();
    assert_eq!(img.channels, Channels::Rgb);
    for (t, c) in [(0, red), (1, blue), (2, red)] {
        assert_flat_tile(&img, montage_tile_at(t, tile), ORIGINAL_TILE, c, "montage");
    }
    // The overview shows the same tiles; its JPEG row makes it colour too.
    let overview = load_png(&m.overview).unwrap();
    assert_eq!(overview.channels, Channels::Rgb);
    assert_flat_tile(
        &overview,
        overview_tile_at(0, 1, tile),
        ORIGINAL_TILE,
        blue,
        "overview",
    );
    assert_flat_tile(
        &overview,
        overview_tile_at(1, 0, tile),
        ORIGINAL_TILE,
        Colour::grey(90),
        "overview",
    );
    // Cluster 1 holds a colour JPEG, so it is RGB; its grey PNG is grey in it.
    let img = load_png(&m.clusters[1].montage).unwrap();
    assert_eq!(img.channels, Channels::Rgb);
    assert_flat_tile(
        &img,
        montage_tile_at(0, tile),
        ORIGINAL_TILE,
        Colour::grey(90),
        "grey",
    );
    // The JPEG's tile is in colour: some pixel has red != green or green != blue.
    let (x0, y0) = montage_tile_at(1, tile);
    let coloured = (0..ORIGINAL_TILE * ORIGINAL_TILE).any(|p| {
        let c = img.get(x0 + p % ORIGINAL_TILE, y0 + p / ORIGINAL_TILE);
        c.r != c.g || c.g != c.b
    });
    assert!(coloured, "the JPEG's tile is grey");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_montage_of_grey_originals_is_a_grey_png() {
    let dir = temp_dir("orig-grey");
    flat_grey(&dir.join("a.png"), (20, 10), 40);
    flat_grey(&dir.join("b.png"), (10, 20), 200);
    let options = FolderOptions {
        size: Some((5, 5)),
        ..FolderOptions::default()
    };
    let f = load_folder(&dir, &options).unwrap();
    let pictures = ClusterPictures {
        images: &f.dataset.images,
        height: 5,
        width: 5,
        channels: 1,
        assignment: &[0, 0],
        confidence: &[0.5, 0.9],
        labels: None,
        clusters: 1,
        originals: Some(&f.sources),
    };
    let m = write_montages(dir.join("out"), &pictures).unwrap();
    let img = load_png(&m.clusters[0].montage).unwrap();
    assert_eq!(img.channels, Channels::Grey);
    let tile = (ORIGINAL_TILE, ORIGINAL_TILE);
    assert_flat_tile(
        &img,
        montage_tile_at(0, tile),
        ORIGINAL_TILE,
        Colour::grey(200),
        "b",
    );
    assert_flat_tile(
        &img,
        montage_tile_at(1, tile),
        ORIGINAL_TILE,
        Colour::grey(40),
        "a",
    );
    assert_eq!(load_png(&m.overview).unwrap().channels, Channels::Grey);
    fs::remove_dir_all(&dir).unwrap();
}

fn gallery(dir: &Path, f: &Folder) -> Gallery {
    write_gallery(dir.join("gallery"), &pictures(f), &names(f)).unwrap()
}

#[test]
fn thumbnails_are_the_originals_in_colour_and_their_own_proportions() {
    let (dir, f) = folder("orig-gallery");
    let g = gallery(&dir, &f);
    assert!(g.unreadable.is_empty());
    let thumbs: Vec<Image> = g.thumbnails.iter().map(|t| load_png(t).unwrap()).collect();
    // a.png, 40x30 red: smaller than a thumbnail, so its own pixels.
    assert_eq!((thumbs[0].width, thumbs[0].height), (40, 30));
    assert_eq!(thumbs[0].channels, Channels::Rgb);
    assert!(
        thumbs[0]
            .pixels
            .chunks_exact(3)
            .all(|p| p == RED.as_slice())
    );
    // b.png, 300x200: the shorter side becomes THUMBNAIL_SIDE, nothing cropped.
    assert_eq!((thumbs[1].width, thumbs[1].height), (192, THUMBNAIL_SIDE));
    assert!(
        thumbs[1]
            .pixels
            .chunks_exact(3)
            .all(|p| p == BLUE.as_slice())
    );
    // c.png, grey: a grey thumbnail.
    assert_eq!(
        (thumbs[2].width, thumbs[2].height, thumbs[2].channels),
        (50, 50, Channels::Grey)
    );
    assert!(thumbs[2].pixels.iter().all(|&v| v == 90));
    // d.jpg: exactly the decoder's RGB pixels of the file.
    let bytes = fs::read(&f.sources[3]).unwrap();
    let mut pixels = Vec::new();
    let (h, w) = decode::decode(
        &f.sources[3],
        &bytes,
        DecodeColour::Rgb,
        (35, 21),
        &mut pixels,
    )
    .unwrap();
    assert_eq!((w, h), (35, 21));
    assert_eq!(
        (thumbs[3].width, thumbs[3].height, thumbs[3].channels),
        (35, 21, Channels::Rgb)
    );
    assert_eq!(thumbs[3].pixels, pixels);
    // In their clusters' folders, named after their files (a JPEG's name kept whole).
    assert_eq!(g.thumbnails[3], g.folders[1].join("d.jpg.png"));
    fs::remove_dir_all(&dir).unwrap();
}

/// Every file under `dir`, relative, with its bytes, sorted.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_gallery_is_the_same_on_one_thread_and_on_three() {
    let (dir, f) = folder("orig-threads");
    let on = |threads: usize, out: &str| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| write_gallery(dir.join(out), &pictures(&f), &names(&f)).unwrap());
        files(&dir.join(out))
    };
    let one = on(1, "one");
    assert_eq!(one.len(), 5 + 3); // thumbnails, two montages and the overview
    assert_eq!(one, on(3, "three"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_source_removed_after_loading_shows_its_network_input_and_is_reported() {
    let (dir, f) = folder("orig-removed");
    fs::remove_file(&f.sources[1]).unwrap(); // b.png, blue, in cluster 0's montage
    let g = gallery(&dir, &f);
    // Reported once (montage, overview and thumbnail all met it), naming the file.
    assert_eq!(g.unreadable.len(), 1, "{:?}", g.unreadable);
    assert_eq!(g.unreadable[0].row, 1);
    assert!(
        g.unreadable[0].error.contains("b.png"),
        "{:?}",
        g.unreadable
    );
    assert_eq!(g.montages.unreadable.len(), 1);
    let warning = unreadable_warning(&g.unreadable).unwrap();
    assert!(
        warning.starts_with("warning: 1 source image could not be read again"),
        "{warning}"
    );
    assert!(!warning.contains('\n'));
    // The thumbnail is the network input at its own size: 6x4 grey, the blue's luma.
    let input = Image::from_unit_pixels(f.dataset.images.row(1), 6, 4, Channels::Grey);
    let thumb = load_png(&g.thumbnails[1]).unwrap();
    assert_eq!(thumb, input);
    let luma = Colour::rgb(BLUE[0], BLUE[1], BLUE[2]).luma();
    assert!(
        thumb.pixels.iter().all(|&v| v == luma),
        "{:?}",
        thumb.pixels
    );
    // The montage tile is that input brought to the tile size, among the colour ones.
    let img = load_png(&g.montages.clusters[0].montage).unwrap();
    let tile = (ORIGINAL_TILE, ORIGINAL_TILE);
    assert_flat_tile(
        &img,
        montage_tile_at(1, tile),
        ORIGINAL_TILE,
        Colour::grey(luma),
        "b",
    );
    let red = Colour::rgb(RED[0], RED[1], RED[2]);
    assert_flat_tile(&img, montage_tile_at(0, tile), ORIGINAL_TILE, red, "a");
    // The other thumbnails are the originals still.
    assert_eq!(load_png(&g.thumbnails[0]).unwrap().width, 40);
    fs::remove_dir_all(&dir).unwrap();
}

/// Deletes `victim` when the first method starts (after the images are loaded), and
/// keeps the notes.
struct DeleteAtFirstMethod {
    victim: PathBuf,
    notes: Vec<String>,
}

impl deepcluster::experiment::Observer for DeleteAtFirstMethod {
    fn phase(&mut self, name: &str, _: usize, _: bool) {
        if name == "kmeans" {
            fs::remove_file(&self.victim).unwrap();
        }
    }

    fn note(&mut self, text: &str) {
        self.notes.push(text.to_string());
    }
}

#[test]
fn a_run_whose_source_disappears_warns_once_and_finishes() {
    use deepcluster::data::Protocol;
    use deepcluster::experiment::{self, Clusters, Config, Preset, Schedule};

    let dir = temp_dir("orig-run");
    for i in 0..12 {
        let rgb = if i % 2 == 0 { RED } else { BLUE };
        flat_rgb(&dir.join(format!("p{i:02}.png")), (20, 16), rgb);
    }
    let out = temp_dir("orig-run-out");
    let mut schedule = Schedule::quick();
    schedule.pretrain_epochs = 1;
    schedule.pretrain_batch = 8;
    let config = Config {
        data_dir: dir.clone(),
        folder: FolderOptions {
            size: Some((6, 4)),
            ..FolderOptions::default()
        },
        protocol: Protocol::Split,
        unlabelled: false,
        // Two methods, both drawing every image (each cluster has fewer than 100).
        methods: vec!["kmeans", "ae+kmeans"],
        clusters: Clusters::Fixed(2),
        seed: 1,
        schedule,
        preset: Preset::Quick,
        out: out.clone(),
        ae_weights: None,
        checkpoint_every: 0,
        umap_neighbors: 5,
        umap_dims: None,
        overwrite: false,
        augment: false,
    };
    let mut observer = DeleteAtFirstMethod {
        victim: dir.join("p03.png"),
        notes: Vec::new(),
    };
    let results = experiment::run(&config, None, &mut observer).unwrap();
    assert_eq!(results.len(), 2);
    let warnings: Vec<&String> = observer
        .notes
        .iter()
        .filter(|n| n.contains("could not be read again"))
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", observer.notes);
    assert!(warnings[0].contains("p03.png"), "{}", warnings[0]);
    for m in ["kmeans", "ae_kmeans"] {
        let overview = load_png(out.join(m).join("overview.png")).unwrap();
        assert_eq!(overview.channels, Channels::Rgb, "{m}");
    }
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&out).unwrap();
}
