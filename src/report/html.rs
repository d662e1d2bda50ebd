//! `index.html`: one page that shows a run — the results table, the training curves, and
//! per method the overview and every cluster's montage with its size, majority label and
//! purity. No scripts and nothing fetched from the network.
//!
//! The pictures are embedded as base64 `data:` URIs when they are small enough together
//! (the page then works even when copied alone), otherwise linked by paths relative to the
//! page (they sit in the same output folder).

use std::path::{Component, Path, PathBuf};

use super::base64;
use super::montage::{Montages, caption};
use super::table::ResultRow;
use crate::{Error, Result};

/// Pages whose embedded pictures would exceed this many bytes link them instead.
pub const MAX_INLINE_BYTES: u64 = 20_000_000;

/// How the page refers to its pictures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Embedding {
    /// Base64 `data:` URIs inside the page.
    Inline,
    /// Relative paths from the page's folder (the pictures must lie under it).
    Linked,
    /// Inline when the pictures' base64 fits in `MAX_INLINE_BYTES`, else linked.
    Auto,
}

/// A picture with a caption (a training curve).
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub caption: String,
    pub path: PathBuf,
}

/// One method's clustering pictures.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodSection {
    /// `kmeans`, `ae+kmeans`, `dec` or `predict`.
    pub name: String,
    /// The method's own pictures (N2D's map), shown above its montages.
    pub figures: Vec<Figure>,
    pub montages: Montages,
}

/// Everything the page shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub title: String,
    /// Lines under the title (data folder, protocol, seed, preset, ...).
    pub summary: Vec<String>,
    pub results: Vec<ResultRow>,
    pub curves: Vec<Figure>,
    pub methods: Vec<MethodSection>,
}

impl Page {
    /// Every picture the page shows, in page order.
    pub fn images(&self) -> Vec<&Path> {
        let mut paths: Vec<&Path> = self.curves.iter().map(|f| f.path.as_path()).collect();
        for m in &self.methods {
            paths.extend(m.figures.iter().map(|f| f.path.as_path()));
            paths.push(&m.montages.overview);
            paths.extend(m.montages.clusters.iter().map(|c| c.montage.as_path()));
        }
        paths
    }
}

/// Writes the page to `path` (atomically); returns how the pictures were referenced.
pub fn write_index(path: impl AsRef<Path>, page: &Page, embedding: Embedding) -> Result<Embedding> {
    let path = path.as_ref();
    let base = path.parent().unwrap_or(Path::new(""));
    let chosen = match embedding {
        Embedding::Auto => {
            let mut total = 0u64;
            for p in page.images() {
                total += std::fs::metadata(p).map_err(|e| Error::io(p, e))?.len();
            }
            if total.div_ceil(3) * 4 <= MAX_INLINE_BYTES {
                Embedding::Inline
            } else {
                Embedding::Linked
            }
        }
        other => other,
    };
    let src = |p: &Path| -> Result<String> {
        match chosen {
            Embedding::Linked => {
                std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
                relative_url(base, p).ok_or_else(|| {
                    Error::invalid(
                        p.display().to_string(),
                        format!(
                            "is not inside {}, so the page cannot link it",
                            base.display()
                        ),
                    )
                })
            }
            _ => {
                let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
                Ok(format!("data:image/png;base64,{}", base64::encode(&bytes)))
            }
        }
    };

    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str(&format!("<title>{}</title>\n", escape(&page.title)));
    h.push_str(STYLE);
    h.push_str("</head>\n<body>\n");
    h.push_str(&format!("<h1>{}</h1>\n", escape(&page.title)));
    for line in &page.summary {
        h.push_str(&format!("<p>{}</p>\n", escape(line)));
    }

    if !page.results.is_empty() && super::table::all_scored(&page.results) {
        h.push_str("<h2>Results</h2>\n<table>\n<tr><th>method</th><th>NMI</th><th>ACC</th><th>ARI</th><th>seconds</th></tr>\n");
        for r in &page.results {
            let s = r.scores.expect("all rows are scored");
            h.push_str(&format!(
                "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.1}</td></tr>\n",
                escape(&r.method),
                s.nmi,
                s.acc,
                s.ari,
                r.seconds
            ));
        }
        h.push_str("</table>\n");
    } else if !page.results.is_empty() {
        // Unlabelled: no scores; each method's cluster sizes are its result.
        h.push_str("<h2>Results</h2>\n<table>\n<tr><th>method</th><th>cluster sizes</th><th>seconds</th></tr>\n");
        for r in &page.results {
            let sizes: Vec<String> = r.sizes.iter().map(|s| s.to_string()).collect();
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{:.1}</td></tr>\n",
                escape(&r.method),
                sizes.join(" "),
                r.seconds
            ));
        }
        h.push_str("</table>\n");
    }

    if !page.curves.is_empty() {
        h.push_str("<h2>Training curves</h2>\n<div class=\"row\">\n");
        for f in &page.curves {
            h.push_str(&figure(&src(&f.path)?, &f.caption, "curve"));
        }
        h.push_str("</div>\n");
    }

    for m in &page.methods {
        let name = escape(&m.name);
        h.push_str(&format!("<h2>Clusters: {name}</h2>\n"));
        for f in &m.figures {
            h.push_str(&figure(&src(&f.path)?, &f.caption, "map"));
        }
        h.push_str(&figure(
            &src(&m.montages.overview)?,
            &format!(
                "{}: one row per cluster, most confident members first",
                m.name
            ),
            "overview",
        ));
        h.push_str("<div class=\"row\">\n");
        for c in &m.montages.clusters {
            h.push_str(&figure(&src(&c.montage)?, &caption(c), "montage"));
        }
        h.push_str("</div>\n");
    }
    h.push_str("</body>\n</html>\n");
    crate::io::write_atomic(path, h.as_bytes())?;
    Ok(chosen)
}

const STYLE: &str = "<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.8em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.row { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0.5em 0; }
figcaption { font-size: 0.9em; }
img { image-rendering: pixelated; border: 1px solid #ccc; max-width: 100%; }
</style>
";

fn figure(src: &str, caption: &str, class: &str) -> String {
    let caption = escape(caption);
    format!(
        "<figure class=\"{class}\"><img src=\"{src}\" alt=\"{caption}\"><figcaption>{caption}</figcaption></figure>\n"
    )
}

/// Text made safe inside HTML elements and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `target` relative to folder `base`, as a URL path with every byte outside the
/// unreserved set percent-encoded; `None` when `target` is not lexically inside `base`.
pub fn relative_url(base: &Path, target: &Path) -> Option<String> {
    let rel = target.strip_prefix(base).ok()?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(part) => parts.push(percent_encode(&part.to_string_lossy())),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&#39;");
    }

    #[test]
    fn relative_urls() {
        let base = Path::new("results");
        assert_eq!(
            relative_url(base, Path::new("results/montages/ae+kmeans/cluster 1.png")).as_deref(),
            Some("montages/ae%2Bkmeans/cluster%201.png")
        );
        assert_eq!(relative_url(base, Path::new("elsewhere/x.png")), None);
        assert_eq!(relative_url(base, Path::new("results/../x.png")), None);
        assert_eq!(
            relative_url(Path::new(""), Path::new("x.png")).as_deref(),
            Some("x.png")
        );
    }
}
