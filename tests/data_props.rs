//! Properties of the hand-written parsers: any CSV written the ways spreadsheets write it
//! reads back exactly; no input at all, however corrupt, makes the CSV reader or the gzip
//! decoder panic.

use std::path::Path;

use deepcluster::data::listing::parse_listing;
use deepcluster::format::inflate::gunzip;
use proptest::prelude::*;

/// A CSV field as a writer that quotes only when needed would write it.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) || field.is_empty() {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn written_csv_reads_back(
        rows in prop::collection::vec(("[a-zA-Z][a-zA-Z0-9 ,\"_.-]{0,12}", any::<u8>(), "[ -~\n]{0,8}"), 1..20),
        crlf in any::<bool>(),
        bom in any::<bool>(),
        final_newline in any::<bool>(),
        label_first in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        // Unique names: the row index in front.
        let names: Vec<String> = rows.iter().enumerate().map(|(i, r)| format!("{i}{}", r.0)).collect();
        let mut text = String::new();
        if bom {
            text.push('\u{feff}');
        }
        text.push_str(if label_first { "label,filename,note" } else { "filename,note,label" });
        for ((_, label, note), name) in rows.iter().zip(&names) {
            text.push_str(eol);
            let (name, note) = (quote(name), quote(note));
            if label_first {
                text.push_str(&format!("{label},{name},{note}"));
            } else {
                text.push_str(&format!("{name},{note},\"{label}\""));
            }
        }
        if final_newline {
            text.push_str(eol);
        }
        let listing = parse_listing(Path::new("p.csv"), text.as_bytes()).unwrap();
        prop_assert_eq!(&listing.filenames, &names);
        let labels: Vec<u8> = rows.iter().map(|r| r.1).collect();
        prop_assert_eq!(listing.labels, Some(labels));
    }

    #[test]
    fn csv_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_listing(Path::new("p.csv"), &bytes);
    }

    #[test]
    fn csv_reader_never_panics_on_csv_like_text(text in "[a-z0-9,\"\r\n.\\-/]{0,80}") {
        let with_header = format!("filename,label\n{text}");
        let _ = parse_listing(Path::new("p.csv"), with_header.as_bytes());
    }

    #[test]
    fn gunzip_never_panics_on_corrupted_gzip(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx-gz");
        let mut gz = std::fs::read(dir.join("train-labels-idx1-ubyte.gz")).unwrap();
        for (at, value) in flips {
            let i = at.index(gz.len());
            gz[i] ^= value;
        }
        let end = cut.index(gz.len() + 1);
        let _ = gunzip(&gz[..end], 1 << 20);
    }

    #[test]
    fn gunzip_never_panics_on_random_bytes(tail in prop::collection::vec(any::<u8>(), 0..300)) {
        // A valid header, so the DEFLATE decoder itself sees the random bytes.
        let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        gz.extend(tail);
        let _ = gunzip(&gz, 1 << 20);
    }
}
