//! Results out: the table, CSV logs, progress lines, pictures and the HTML page.
//!
//! - [`progress`]: what a run is doing, on stderr.
//! - [`table`]: the results table on stdout, `results.csv` and the training logs.
//! - [`raster`] and [`font`]: a tiny image type, PNG output and a 5x7 bitmap font.
//! - [`montage`]: one picture per cluster (its most confident members) and an overview.
//! - [`gallery`]: the organised photo gallery: one folder of thumbnails per cluster.
//! - [`tiles`]: the original images (a folder's source files) behind montages and
//!   thumbnails.
//! - [`plot`]: training curves as line charts.
//! - [`map`]: the images on a 2-D map, coloured by cluster and by class (N2D's `map.png`).
//! - [`html`] (with [`base64`]): `index.html`, one page showing all of the above.

pub mod augmented;
pub mod base64;
pub mod font;
pub mod gallery;
pub mod html;
pub mod map;
pub mod montage;
pub mod plot;
pub mod progress;
pub mod raster;
pub mod table;
pub mod tiles;
