//! `map.png` (N2D's picture): which member of each cluster gets a thumbnail, and that every
//! point lands in its panel at the same place, in its cluster's colour on the left and its
//! class's colour on the right.

use deepcluster::linalg::Matrix;
use deepcluster::report::map::{
    MapInput, PANEL, colour_of, map_size, panel_origin, render_map, thumbnail_points,
};
use deepcluster::report::raster::{Channels, Colour, Image};

fn positions(points: &[(f32, f32)]) -> Matrix {
    Matrix::from_vec(
        points.len(),
        2,
        points.iter().flat_map(|&(x, y)| [x, y]).collect(),
    )
}

#[test]
fn the_thumbnail_of_a_cluster_is_its_member_nearest_the_middle() {
    // Cluster 0: (0,0), (2,0), (1,0.3): middle (1, 0.1), nearest the third point (index 2).
    // Cluster 1: one point (index 3). Cluster 2: empty, so no thumbnail.
    // Cluster 3: (5,5) and (7,5): both 1 from the middle (6,5); the lower index (4) wins.
    let p = positions(&[
        (0.0, 0.0),
        (2.0, 0.0),
        (1.0, 0.3),
        (9.0, 9.0),
        (5.0, 5.0),
        (7.0, 5.0),
    ]);
    let assignment = [0, 0, 0, 1, 3, 3];
    assert_eq!(thumbnail_points(&p, &assignment, 4), vec![2, 3, 4]);
}

/// The pixels of panel `p`'s plot area that have colour `c`.
fn pixels_of(img: &Image, p: usize, c: Colour) -> Vec<(usize, usize)> {
    let (left, top) = panel_origin(p);
    let mut found = Vec::new();
    for y in top..top + PANEL {
        for x in left..left + PANEL {
            if img.get(x, y) == c {
                found.push((x - left, y - top));
            }
        }
    }
    found
}

#[test]
fn points_land_in_place_coloured_by_cluster_and_by_class() {
    // Cluster 0 at the lower left, cluster 1 at the upper right; their classes are the
    // other way round, so the right panel shows the same places in swapped colours.
    let p = positions(&[(0.0, 0.0), (0.1, 0.0), (1.0, 1.0), (f32::NAN, 0.5)]);
    let assignment = [0, 0, 1, 1];
    let labels = [1, 1, 0, 0];
    let img = render_map(&MapInput {
        positions: &p,
        assignment: &assignment,
        clusters: 2,
        labels: Some(&labels),
        title: "test clusters",
        thumbnails: &[],
    });
    assert_eq!((img.width, img.height), map_size(2));
    assert_eq!(img.channels, Channels::Rgb);
    let half = PANEL / 2;
    let lower_left = |v: &[(usize, usize)]| v.iter().all(|&(x, y)| x < half && y > half);
    let upper_right = |v: &[(usize, usize)]| v.iter().all(|&(x, y)| x > half && y < half);

    let (c0, c1) = (
        pixels_of(&img, 0, colour_of(0)),
        pixels_of(&img, 0, colour_of(1)),
    );
    assert!(!c0.is_empty() && lower_left(&c0), "{c0:?}");
    // The NaN point is skipped: cluster 1's only pixels are its finite point's.
    assert!(!c1.is_empty() && upper_right(&c1), "{c1:?}");
    let (k0, k1) = (
        pixels_of(&img, 1, colour_of(0)),
        pixels_of(&img, 1, colour_of(1)),
    );
    assert_eq!(k1, c0, "class 1 sits where cluster 0 does");
    assert_eq!(k0, c1, "class 0 sits where cluster 1 does");
}

#[test]
fn without_labels_there_is_one_panel_and_thumbnails_are_framed_in_their_colour() {
    let p = positions(&[(0.0, 0.0), (1.0, 1.0), (0.5, 0.5)]);
    let assignment = [0, 1, 2];
    let thumb = Image::new(6, 4, Channels::Grey, Colour::grey(77));
    let img = render_map(&MapInput {
        positions: &p,
        assignment: &assignment,
        clusters: 3,
        labels: None,
        title: "n2d clusters",
        thumbnails: &[(2, thumb)],
    });
    assert_eq!((img.width, img.height), map_size(1));
    // The thumbnail (6x4 of grey 77) is centred on the middle point, inside a 2-pixel
    // frame in cluster 2's colour.
    let grey = pixels_of(&img, 0, Colour::grey(77));
    assert_eq!(grey.len(), 6 * 4);
    let (xs, ys): (Vec<usize>, Vec<usize>) = grey.iter().copied().unzip();
    let (cx, cy) = (
        (xs.iter().min().unwrap() + xs.iter().max().unwrap()) as f64 / 2.0,
        (ys.iter().min().unwrap() + ys.iter().max().unwrap()) as f64 / 2.0,
    );
    assert!((cx - (PANEL - 1) as f64 / 2.0).abs() <= 1.0, "{cx}");
    assert!((cy - (PANEL - 1) as f64 / 2.0).abs() <= 1.0, "{cy}");
    let (left, top) = panel_origin(0);
    let (x0, y0) = (
        left + xs.iter().min().unwrap(),
        top + ys.iter().min().unwrap(),
    );
    assert_eq!(img.get(x0 - 1, y0 - 1), colour_of(2));
    assert_eq!(img.get(x0 - 2, y0 + 3), colour_of(2));
}
