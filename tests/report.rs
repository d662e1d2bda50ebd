//! The report's files: exact CSV bytes, the table, montages whose tiles are exactly the
//! right source images, charts, the gallery, and an index.html that shows every picture.

use std::fs;
use std::path::{Path, PathBuf};

use deepcluster::linalg::Matrix;
use deepcluster::metrics::Scores;
use deepcluster::report::gallery::write_gallery;
use deepcluster::report::html::{Embedding, Figure, MethodSection, Page, write_index};
use deepcluster::report::montage::{
    ClusterPictures, MONTAGE_MAX, OVERVIEW_MAX, TILE_SCALE, montage_tile_origin,
    overview_tile_origin, write_montages,
};
use deepcluster::report::plot::{self, PALETTE, Series, line_chart, render_line_chart};
use deepcluster::report::raster::{Channels, Colour, Image, load_png};
use deepcluster::report::table::{
    DecLog, DecLogRow, PretrainLog, ResultRow, cluster_sizes, format_results_table,
    write_results_csv,
};

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("deepcluster-report-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn rows() -> Vec<ResultRow> {
    vec![
        ResultRow {
            method: "kmeans".into(),
            scores: Some(Scores {
                nmi: 0.4998123,
                acc: 0.54211,
                ari: 0.3662,
            }),
            sizes: vec![3, 2],
            seconds: 45.239,
        },
        ResultRow {
            method: "ae+kmeans".into(),
            scores: Some(Scores {
                nmi: 0.75,
                acc: 0.8,
                ari: 0.7,
            }),
            sizes: vec![3, 2],
            seconds: 120.0,
        },
        ResultRow {
            method: "dec".into(),
            scores: Some(Scores {
                nmi: 0.8612,
                acc: 0.9,
                ari: 0.83,
            }),
            sizes: vec![3, 2],
            seconds: 200.5,
        },
    ]
}

#[test]
fn results_csv_and_table_bytes() {
    let dir = temp_dir("csv");
    let path = dir.join("results.csv");
    write_results_csv(&path, &rows()).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "method,nmi,acc,ari,seconds\n\
         kmeans,0.499812,0.542110,0.366200,45.24\n\
         ae+kmeans,0.750000,0.800000,0.700000,120.00\n\
         dec,0.861200,0.900000,0.830000,200.50\n"
    );
    assert_eq!(
        format_results_table(&rows()),
        "method        NMI     ACC     ARI   seconds\n\
         kmeans     0.4998  0.5421  0.3662      45.2\n\
         ae+kmeans  0.7500  0.8000  0.7000     120.0\n\
         dec        0.8612  0.9000  0.8300     200.5\n"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// An unlabelled run (no scores): the table and results.csv show the cluster sizes.
#[test]
fn unlabelled_results_show_cluster_sizes() {
    let dir = temp_dir("sizes");
    let rows: Vec<ResultRow> = rows()
        .into_iter()
        .map(|r| ResultRow { scores: None, ..r })
        .collect();
    let path = dir.join("results.csv");
    write_results_csv(&path, &rows).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "method,sizes,seconds\n\
         kmeans,3 2,45.24\n\
         ae+kmeans,3 2,120.00\n\
         dec,3 2,200.50\n"
    );
    assert_eq!(
        format_results_table(&rows),
        "method      seconds  cluster sizes\n\
         kmeans         45.2  3 2\n\
         ae+kmeans     120.0  3 2\n\
         dec           200.5  3 2\n"
    );
    assert_eq!(cluster_sizes(&[2, 0, 2, 2], 4), vec![1, 0, 3, 0]);
    fs::remove_dir_all(&dir).unwrap();
}

/// An unlabelled DEC log leaves the score cells empty and resumes from them.
#[test]
fn an_unlabelled_dec_log_has_empty_score_cells() {
    let dir = temp_dir("declog-unlabelled");
    let mut dec = DecLog::new(dir.join("dec_log.csv"));
    let row = DecLogRow {
        iter: 0,
        scores: None,
        loss: 0.5,
        changed: None,
    };
    dec.append(row).unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("dec_log.csv")).unwrap(),
        "iter,acc,nmi,ari,loss,changed\n0,,,,0.500000,\n"
    );
    assert_eq!(
        DecLog::resume(dir.join("dec_log.csv"), 0).unwrap().rows,
        vec![row]
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn training_logs_bytes() {
    let dir = temp_dir("logs");
    let mut pre = PretrainLog::new(dir.join("pretrain_log.csv"));
    pre.append(1, 0.0712345678, None).unwrap();
    pre.append(2, 0.05, Some((0.61, 0.55))).unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("pretrain_log.csv")).unwrap(),
        "epoch,loss,acc,nmi\n1,0.071235,,\n2,0.050000,0.610000,0.550000\n"
    );
    assert_eq!(pre.losses, vec![(1, 0.0712345678), (2, 0.05)]);
    let mut dec = DecLog::new(dir.join("dec_log.csv"));
    let row = DecLogRow {
        iter: 0,
        scores: Some(Scores {
            acc: 0.8,
            nmi: 0.75,
            ari: 0.7,
        }),
        loss: 0.0,
        changed: None,
    };
    dec.append(row).unwrap();
    dec.append(DecLogRow {
        iter: 140,
        loss: 0.0123,
        changed: Some(412),
        ..row
    })
    .unwrap();
    let first = fs::read(dir.join("dec_log.csv")).unwrap();
    assert_eq!(
        String::from_utf8(first.clone()).unwrap(),
        "iter,acc,nmi,ari,loss,changed\n\
         0,0.800000,0.750000,0.700000,0.000000,\n\
         140,0.800000,0.750000,0.700000,0.012300,412\n"
    );
    // Resuming from a checkpoint keeps the rows up to it and drops the later ones.
    let resumed = DecLog::resume(dir.join("dec_log.csv"), 139).unwrap();
    assert_eq!(resumed.rows, vec![row]);
    assert_eq!(
        resumed.csv().text(),
        "iter,acc,nmi,ari,loss,changed\n0,0.800000,0.750000,0.700000,0.000000,\n"
    );
    let all = DecLog::resume(dir.join("dec_log.csv"), 140).unwrap();
    assert_eq!(all.csv().text().as_bytes(), &first[..]);
    assert_eq!(all.rows[1].changed, Some(412));
    let mut pre2 = PretrainLog::resume(dir.join("pretrain_log.csv"), 5).unwrap();
    assert_eq!(pre2.losses, vec![(1, 0.071235), (2, 0.05)]);
    assert_eq!(pre2.scores, vec![(2, 0.61, 0.55)]);
    pre2.append(3, 0.04, None).unwrap();
    assert!(
        fs::read_to_string(dir.join("pretrain_log.csv"))
            .unwrap()
            .ends_with("\n3,0.040000,,\n")
    );
    let fresh = DecLog::resume(dir.join("missing.csv"), 10).unwrap();
    assert!(fresh.rows.is_empty());
    // A log that is not ours is a one-line data error naming the file and line.
    fs::write(
        dir.join("other.csv"),
        "iter,acc,nmi,ari,loss,changed\n1,x,0,0,0,\n",
    )
    .unwrap();
    let msg = DecLog::resume(dir.join("other.csv"), 10)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("other.csv") && msg.contains("`x`"), "{msg}");
    fs::write(dir.join("other.csv"), "a,b\n").unwrap();
    let msg = DecLog::resume(dir.join("other.csv"), 10)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("line 1"), "{msg}");
    fs::remove_file(dir.join("other.csv")).unwrap();

    // No temporary files are left next to the logs.
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["dec_log.csv", "pretrain_log.csv"]);
    fs::remove_dir_all(&dir).unwrap();
}

/// N distinct 28x28 "images" whose pixels are multiples of 1/255, as MNIST's are.
fn images(n: usize) -> Matrix {
    Matrix::from_fn(n, 28 * 28, |i, p| {
        ((i * 37 + p * 11 + (i * p) % 7) % 256) as f32 / 255.0
    })
}

/// Checks that the TILE_SCALE-enlarged image `i` sits at `origin` in `picture`.
fn assert_tile(picture: &Image, origin: (usize, usize), src: &Matrix, i: usize, what: &str) {
    for y in 0..28 * TILE_SCALE {
        for x in 0..28 * TILE_SCALE {
            let expected = (src.get(i, (y / TILE_SCALE) * 28 + x / TILE_SCALE) * 255.0).round();
            let got = picture.get(origin.0 + x, origin.1 + y);
            assert_eq!(
                got,
                Colour::grey(expected as u8),
                "{what}: image {i} at ({x}, {y})"
            );
        }
    }
}

struct Clustering {
    images: Matrix,
    assignment: Vec<usize>,
    confidence: Vec<f32>,
    labels: Vec<usize>,
}

/// 230 images in 4 clusters: cluster 0 gets 130 (more than a montage shows), cluster 1
/// gets 95, cluster 2 gets 5, cluster 3 none.
fn clustering() -> Clustering {
    let n = 230;
    let assignment: Vec<usize> = (0..n)
        .map(|i| {
            if i < 130 {
                0
            } else if i < 225 {
                1
            } else {
                2
            }
        })
        .collect();
    // Confidence not in index order, with a tie and a NaN.
    let confidence: Vec<f32> = (0..n)
        .map(|i| match i {
            3 => f32::NAN,
            7 | 8 => 2.0,
            _ => ((i * 7919) % 101) as f32 / 101.0,
        })
        .collect();
    // Cluster 0: 100 of 130 carry label 4; cluster 1: labels 1 and 2 tie 40/40 (+15 of 9).
    let labels: Vec<usize> = (0..n)
        .map(|i| match i {
            0..100 => 4,
            100..130 => 6,
            130..170 => 2,
            170..210 => 1,
            210..225 => 9,
            _ => 3,
        })
        .collect();
    Clustering {
        images: images(n),
        assignment,
        confidence,
        labels,
    }
}

fn expected_order(c: &Clustering, k: usize) -> Vec<usize> {
    let mut m: Vec<usize> = (0..c.assignment.len())
        .filter(|&i| c.assignment[i] == k)
        .collect();
    let key = |i: usize| {
        if c.confidence[i].is_nan() {
            -1.0
        } else {
            c.confidence[i]
        }
    };
    m.sort_by(|&a, &b| key(b).partial_cmp(&key(a)).unwrap().then(a.cmp(&b)));
    m
}

#[test]
fn montage_tiles_are_the_right_images() {
    let dir = temp_dir("montage");
    let c = clustering();
    let pictures = ClusterPictures {
        images: &c.images,
        height: 28,
        width: 28,
        channels: 1,
        assignment: &c.assignment,
        confidence: &c.confidence,
        labels: Some(&c.labels),
        clusters: 4,
        originals: None,
    };
    let m = write_montages(dir.join("dec"), &pictures).unwrap();
    assert_eq!(m.files().len(), 5);
    assert!(m.files().iter().all(|f| f.exists()));

    let sizes: Vec<usize> = m.clusters.iter().map(|c| c.size).collect();
    assert_eq!(sizes, [130, 95, 5, 0]);
    let maj0 = m.clusters[0].majority.unwrap();
    assert_eq!((maj0.label, maj0.count), (4, 100));
    assert!((maj0.purity - 100.0 / 130.0).abs() < 1e-12);
    let maj1 = m.clusters[1].majority.unwrap();
    assert_eq!(
        (maj1.label, maj1.count),
        (1, 40),
        "ties go to the smaller label"
    );
    assert_eq!(m.clusters[3].majority, None);

    let cell = 28 * TILE_SCALE + 2;
    for (k, info) in m.clusters.iter().enumerate() {
        let order = expected_order(&c, k);
        let shown: Vec<usize> = order.iter().copied().take(MONTAGE_MAX).collect();
        assert_eq!(info.shown, shown, "cluster {k}");
        let img = load_png(&info.montage).unwrap();
        assert_eq!(img.channels, Channels::Grey);
        // 10 columns once a cluster has 10 members; rows as needed; caption strip on top.
        let columns = shown.len().clamp(1, 10);
        let rows = shown.len().max(1).div_ceil(10);
        assert!(
            img.width >= 4 + columns * cell + (columns - 1) * 2,
            "cluster {k}"
        );
        assert_eq!(
            img.height,
            14 + 4 + rows * cell + (rows - 1) * 2,
            "cluster {k}"
        );
        for (t, &i) in shown.iter().enumerate() {
            assert_tile(
                &img,
                montage_tile_origin(t, 28, 28),
                &c.images,
                i,
                "montage",
            );
        }
    }
    // The most confident first: the tie (7, 8) comes first in index order, the NaN last.
    assert_eq!(&m.clusters[0].shown[..2], &[7, 8]);
    assert!(!m.clusters[0].shown.contains(&3) || *m.clusters[0].shown.last().unwrap() == 3);

    let overview = load_png(&m.overview).unwrap();
    assert_eq!(overview.height, 2 + 4 * (cell + 2));
    for (k, info) in m.clusters.iter().enumerate() {
        for (t, &i) in info.shown.iter().take(OVERVIEW_MAX).enumerate() {
            assert_tile(
                &overview,
                overview_tile_origin(k, t, 28, 28),
                &c.images,
                i,
                "overview",
            );
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gallery_has_one_folder_per_cluster_with_exact_thumbnails() {
    let dir = temp_dir("gallery");
    let c = clustering();
    let names: Vec<String> = (0..c.images.rows()).map(|i| format!("{i}.png")).collect();
    let pictures = ClusterPictures {
        images: &c.images,
        height: 28,
        width: 28,
        channels: 1,
        assignment: &c.assignment,
        confidence: &c.confidence,
        labels: None,
        clusters: 4,
        originals: None,
    };
    // A stale thumbnail from an earlier run is removed.
    fs::create_dir_all(dir.join("cluster_02")).unwrap();
    fs::write(dir.join("cluster_02/old.png"), b"x").unwrap();
    let g = write_gallery(&dir, &pictures, &names).unwrap();
    assert_eq!(g.folders.len(), 4);
    assert!(!dir.join("cluster_02/old.png").exists());
    for (k, folder) in g.folders.iter().enumerate() {
        let count = fs::read_dir(folder).unwrap().count();
        assert_eq!(count, c.assignment.iter().filter(|&&a| a == k).count());
    }
    for i in [0, 129, 130, 229] {
        let t = &g.thumbnails[i];
        assert_eq!(t, &g.folders[c.assignment[i]].join(format!("{i}.png")));
        let img = load_png(t).unwrap();
        assert_eq!((img.width, img.height), (28, 28));
        let expected = Image::from_unit_floats(c.images.row(i), 28, 28);
        assert_eq!(img, expected);
    }
    assert!(g.montages.overview.exists());
    assert_eq!(g.montages.clusters[0].majority, None);

    // Clustered again into 2: clusters 2 and 3 leave nothing behind (folders, thumbnails,
    // montages), and a file the gallery did not write stays.
    fs::write(dir.join("cluster_03/notes.txt"), b"mine").unwrap();
    fs::write(dir.join("mine.png"), b"mine").unwrap();
    let two: Vec<usize> = c.assignment.iter().map(|&a| a % 2).collect();
    let pictures = ClusterPictures {
        assignment: &two,
        clusters: 2,
        ..pictures
    };
    let g = write_gallery(&dir, &pictures, &names).unwrap();
    assert_eq!(g.folders.len(), 2);
    assert!(!dir.join("cluster_02").exists());
    assert!(!dir.join("cluster_02.png").exists() && !dir.join("cluster_03.png").exists());
    assert!(dir.join("cluster_01.png").exists());
    let left: Vec<_> = fs::read_dir(dir.join("cluster_03")).unwrap().collect();
    assert_eq!(left.len(), 1, "only notes.txt stays in cluster_03");
    assert!(dir.join("mine.png").exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn line_chart_draws_its_series_where_the_data_is() {
    let loss: Vec<(f64, f64)> = (1..=50)
        .map(|e| (e as f64, 0.08 / (e as f64).sqrt()))
        .collect();
    let acc: Vec<(f64, f64)> = (0..10)
        .map(|u| (u as f64 * 140.0, 0.6 + 0.03 * u as f64))
        .collect();
    let series = [
        Series::new("loss", loss.clone()),
        Series::new("acc", acc.clone()),
        Series::new("broken", vec![(3.0, f64::NAN)]),
    ];
    let (img, frame) = render_line_chart("Curves", "epoch", &series);
    assert_eq!((img.width, img.height), (plot::WIDTH, plot::HEIGHT));
    for (points, colour) in [(&loss, PALETTE[0]), (&acc, PALETTE[1])] {
        for &(x, y) in points.iter() {
            let (px, py) = frame.to_pixel(x, y);
            let (l, t, w, h) = frame.area;
            assert!(px >= l as i64 && px < (l + w) as i64 && py >= t as i64 && py < (t + h) as i64);
            // The legend sits in a corner free of data, so every point shows its colour
            // (or the colour of the other line where they cross).
            let hit = (-1..=1).any(|d| {
                let c = img.get((px + d) as usize, py as usize);
                c == colour || PALETTE[..2].contains(&c)
            });
            assert!(hit, "point ({x}, {y}) at ({px}, {py}) not drawn");
            assert!(img.get(px as usize, py as usize) != Colour::WHITE);
        }
    }
    // Ticks enclose the data.
    assert!(frame.x_ticks.values[0] <= 0.0 && *frame.x_ticks.values.last().unwrap() >= 1260.0);

    let dir = temp_dir("plot");
    let path = dir.join("curve.png");
    line_chart(&path, "Curves", "epoch", &series).unwrap();
    let back = load_png(&path).unwrap();
    assert_eq!(back, img);
    // An empty chart is still a picture, not a panic.
    line_chart(dir.join("empty.png"), "nothing yet", "x", &[]).unwrap();
    fs::remove_dir_all(&dir).unwrap();
}

/// Every `src="..."` of the page.
fn image_sources(html: &str) -> Vec<String> {
    html.split("<img src=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_string())
        .collect()
}

/// An independent base64 decoder, to check the embedded pictures.
fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let real: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
        let bits = real
            .iter()
            .enumerate()
            .fold(0u32, |acc, (k, &c)| acc | (value(c) as u32) << (18 - 6 * k));
        out.extend_from_slice(&bits.to_be_bytes()[1..real.len()]);
    }
    out
}

fn build_page(dir: &Path) -> Page {
    let c = clustering();
    let mut methods = Vec::new();
    for name in ["kmeans", "dec"] {
        let pictures = ClusterPictures {
            images: &c.images,
            height: 28,
            width: 28,
            channels: 1,
            assignment: &c.assignment,
            confidence: &c.confidence,
            labels: Some(&c.labels),
            clusters: 4,
            originals: None,
        };
        let montages = write_montages(dir.join("montages").join(name), &pictures).unwrap();
        methods.push(MethodSection {
            name: name.into(),
            figures: Vec::new(),
            montages,
        });
    }
    let curve = dir.join("pretrain_loss.png");
    line_chart(
        &curve,
        "Reconstruction loss",
        "epoch",
        &[Series::new("loss", vec![(1.0, 0.1), (2.0, 0.05)])],
    )
    .unwrap();
    Page {
        title: "deepcluster <results>".into(),
        summary: vec!["data: fixtures/mnist, seed 1".into()],
        results: rows(),
        curves: vec![Figure {
            caption: "reconstruction loss per epoch".into(),
            path: curve,
        }],
        methods,
    }
}

#[test]
fn index_html_links_only_existing_files() {
    let dir = temp_dir("html-linked");
    let page = build_page(&dir);
    let index = dir.join("index.html");
    assert_eq!(
        write_index(&index, &page, Embedding::Linked).unwrap(),
        Embedding::Linked
    );
    let html = fs::read_to_string(&index).unwrap();
    let sources = image_sources(&html);
    assert_eq!(sources.len(), 1 + 2 * 5);
    for s in &sources {
        assert!(!s.contains("://") && !s.starts_with('/'), "{s}");
        let file = dir.join(s);
        assert!(file.is_file(), "{s} does not exist");
        load_png(&file).unwrap();
    }
    assert!(html.contains("deepcluster &lt;results&gt;"));
    assert!(html.contains("<td>ae+kmeans</td><td>0.7500</td>"));
    assert!(html.contains("cluster 0: 130 images, mostly 4 (76.9%)"));
    assert!(html.contains("cluster 3: 0 images"));
    assert!(!html.contains("<script"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn index_html_embeds_pictures_that_decode() {
    let dir = temp_dir("html-inline");
    let page = build_page(&dir);
    let index = dir.join("index.html");
    // Small pictures: Auto embeds them.
    assert_eq!(
        write_index(&index, &page, Embedding::Auto).unwrap(),
        Embedding::Inline
    );
    let html = fs::read_to_string(&index).unwrap();
    let sources = image_sources(&html);
    assert_eq!(sources.len(), page.images().len());
    for (s, file) in sources.iter().zip(page.images()) {
        let data = s
            .strip_prefix("data:image/png;base64,")
            .expect("a data URI");
        assert_eq!(base64_decode(data), fs::read(file).unwrap());
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// The real-browser check of issue 7, when chromium is installed (skipped loudly otherwise):
/// both page forms load every picture.
#[test]
fn index_html_loads_every_image_in_a_headless_browser() {
    let has_chromium = std::process::Command::new("sh")
        .args(["-c", "command -v chromium || command -v chromium-browser"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_chromium {
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/report_browser_check.sh");
    for (name, embedding) in [("inline", Embedding::Inline), ("linked", Embedding::Linked)] {
        let dir = temp_dir(&format!("browser-{name}"));
        let page = build_page(&dir);
        write_index(dir.join("index.html"), &page, embedding).unwrap();
        let out = std::process::Command::new("sh")
            .arg(&script)
            .arg(&dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("images=11 broken=0"), "{name}: {text}");
        // The check can fail: a missing picture is reported.
        if embedding == Embedding::Linked {
            fs::remove_file(&page.methods[1].montages.clusters[2].montage).unwrap();
            let out = std::process::Command::new("sh")
                .arg(&script)
                .arg(&dir)
                .output()
                .unwrap();
            assert!(!out.status.success());
            assert!(String::from_utf8_lossy(&out.stdout).contains("broken=1"));
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}

/// FNV-1a, 64 bits: a fingerprint of a file's bytes for the golden test below.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn grey_montages_are_byte_identical_to_the_grey_only_code() {
    // The fingerprints of the files that the code before RGB montages (commit b090899f6,
    // which drew grey only) wrote for this clustering.
    const GOLDEN: [(&str, u64); 4] = [
        ("overview.png", 0x91fc_295c_23a9_0406),
        ("cluster_00.png", 0x4ce1_840d_3538_ca1a),
        ("cluster_01.png", 0xeda9_a27f_0472_73ae),
        ("cluster_03.png", 0x6ed3_b081_2664_b85d),
    ];
    let dir = temp_dir("golden");
    let c = clustering();
    let pictures = ClusterPictures {
        images: &c.images,
        height: 28,
        width: 28,
        channels: 1,
        assignment: &c.assignment,
        confidence: &c.confidence,
        labels: Some(&c.labels),
        clusters: 4,
        originals: None,
    };
    write_montages(&dir, &pictures).unwrap();
    for (file, golden) in GOLDEN {
        let bytes = fs::read(dir.join(file)).unwrap();
        assert_eq!(fnv1a(&bytes), golden, "{file}");
        assert_eq!(load_png(dir.join(file)).unwrap().channels, Channels::Grey);
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rgb_montages_show_the_colours_of_rgb_images() {
    // Six 3x2 images, (N, 3 * 2 * 3) interleaved: image i is one colour, except its
    // top-left pixel, which is white. Clusters 0 (images 0..3) and 1 (3..6).
    let colours = [
        [255u8, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [255, 255, 0],
        [0, 255, 255],
        [51, 102, 204],
    ];
    let (h, w) = (2, 3);
    let images = Matrix::from_fn(6, h * w * 3, |i, j| {
        let (pixel, channel) = (j / 3, j % 3);
        let v = if pixel == 0 { 255 } else { colours[i][channel] };
        v as f32 / 255.0
    });
    let assignment = [0, 0, 0, 1, 1, 1];
    // Most confident first: image 2 leads cluster 0, image 5 leads cluster 1.
    let confidence = [0.1, 0.5, 0.9, 0.2, 0.3, 0.8];
    let dir = temp_dir("rgb");
    let pictures = ClusterPictures {
        images: &images,
        height: h,
        width: w,
        channels: 3,
        assignment: &assignment,
        confidence: &confidence,
        labels: None,
        clusters: 2,
        originals: None,
    };
    let m = write_montages(&dir, &pictures).unwrap();
    let order = [[2, 1, 0], [5, 4, 3]];
    for (k, info) in m.clusters.iter().enumerate() {
        assert_eq!(info.shown, order[k]);
        let img = load_png(&info.montage).unwrap();
        assert_eq!(img.channels, Channels::Rgb);
        for (t, &i) in info.shown.iter().enumerate() {
            let (x0, y0) = montage_tile_origin(t, h, w);
            for y in 0..h * TILE_SCALE {
                for x in 0..w * TILE_SCALE {
                    let [r, g, b] = if x < TILE_SCALE && y < TILE_SCALE {
                        [255; 3]
                    } else {
                        colours[i]
                    };
                    assert_eq!(
                        img.get(x0 + x, y0 + y),
                        Colour::rgb(r, g, b),
                        "cluster {k} tile {t} ({x}, {y})"
                    );
                }
            }
        }
    }
    let overview = load_png(&m.overview).unwrap();
    assert_eq!(overview.channels, Channels::Rgb);
    let (x, y) = overview_tile_origin(1, 0, h, w);
    assert_eq!(overview.get(x + TILE_SCALE, y), Colour::rgb(51, 102, 204));
    // The gallery's thumbnails are the images at their own size, in colour.
    let names: Vec<String> = (0..6).map(|i| format!("{i}.png")).collect();
    let gallery = write_gallery(dir.join("gallery"), &pictures, &names).unwrap();
    let thumb = load_png(&gallery.thumbnails[4]).unwrap();
    assert_eq!(
        (thumb.width, thumb.height, thumb.channels),
        (3, 2, Channels::Rgb)
    );
    assert_eq!(thumb.get(0, 0), Colour::WHITE);
    assert_eq!(thumb.get(2, 1), Colour::rgb(0, 255, 255));
    fs::remove_dir_all(&dir).unwrap();
}
