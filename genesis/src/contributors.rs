//! The crowdfunding contributors file.
//!
//! Two formats, chosen by content (a file starting with `[` is JSON):
//!
//! * **CSV**: one `address,weight` per line; blank lines and lines starting
//!   with `#` are ignored, as is an optional `address,weight` header line.
//!   ```text
//!   # crowdfunding round 1
//!   address,weight
//!   comrade1…(first contributor's address),250
//!   comrade1…(second contributor's address),750
//!   ```
//! * **JSON**: `[{"address": "comrade1…", "weight": "250"}, …]` (the weight
//!   as a string or a number).
//!
//! Weights are positive integers; the crowdfunding share is split pro rata
//! by weight (largest-remainder method). Weights that add up to the
//! crowdfunding share in base units are exact allocations.

use std::path::Path;

use comrade_primitives::{Address, parse_amount};
use serde::Deserialize;

use crate::builder::Contributor;

/// Why a contributors file is rejected.
#[derive(Debug, thiserror::Error)]
pub enum ContributorsError {
    /// The file cannot be read.
    #[error("cannot read contributors file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line or entry is malformed.
    #[error("contributors file {path}, {location}: {message}")]
    Entry {
        /// The file.
        path: String,
        /// `line N` (CSV) or `entry N` (JSON).
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The JSON does not have the expected shape.
    #[error("contributors file {path}: {message}")]
    Json {
        /// The file.
        path: String,
        /// serde's message.
        message: String,
    },
    /// The file lists no contributors.
    #[error("contributors file {0} lists no contributors")]
    Empty(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Weight {
    Str(String),
    Num(u64),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEntry {
    address: String,
    weight: Weight,
}

/// Reads a contributors file (CSV or JSON, see the module docs).
pub fn load(path: &Path) -> Result<Vec<Contributor>, ContributorsError> {
    let text = std::fs::read_to_string(path).map_err(|source| ContributorsError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses a contributors file's text; `path` is used in error messages.
/// Duplicate addresses are rejected.
pub fn parse(text: &str, path: &str) -> Result<Vec<Contributor>, ContributorsError> {
    let entry_err = |location: String, message: String| ContributorsError::Entry {
        path: path.to_string(),
        location,
        message,
    };
    let mut raw: Vec<(String, String, String)> = Vec::new(); // (location, address, weight)
    if text.trim_start().starts_with('[') {
        let entries: Vec<JsonEntry> =
            serde_json::from_str(text).map_err(|e| ContributorsError::Json {
                path: path.to_string(),
                message: e.to_string(),
            })?;
        for (i, e) in entries.into_iter().enumerate() {
            let w = match e.weight {
                Weight::Str(s) => s,
                Weight::Num(n) => n.to_string(),
            };
            raw.push((format!("entry {i}"), e.address, w));
        }
    } else {
        let mut seen_data = false;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let location = format!("line {}", i + 1);
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if !seen_data
                && fields
                    .first()
                    .is_some_and(|f| f.eq_ignore_ascii_case("address"))
            {
                seen_data = true;
                continue;
            }
            seen_data = true;
            let [address, weight] = fields.as_slice() else {
                return Err(entry_err(
                    location,
                    format!("expected `address,weight`, found {} fields", fields.len()),
                ));
            };
            raw.push((location, address.to_string(), weight.to_string()));
        }
    }
    let mut out: Vec<Contributor> = Vec::with_capacity(raw.len());
    let mut seen = std::collections::BTreeMap::new();
    for (location, address, weight) in raw {
        let a: Address = address
            .parse()
            .map_err(|e| entry_err(location.clone(), format!("{e}")))?;
        let w = parse_amount(&weight).map_err(|_| {
            entry_err(
                location.clone(),
                format!("weight {weight:?} is not a positive integer"),
            )
        })?;
        if w == 0 {
            return Err(entry_err(location, "weight must be positive".into()));
        }
        if let Some(first) = seen.insert(a, location.clone()) {
            return Err(entry_err(
                location,
                format!("duplicate contributor {a} (first at {first})"),
            ));
        }
        out.push(Contributor {
            address: a,
            weight: w,
        });
    }
    if out.is_empty() {
        return Err(ContributorsError::Empty(path.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(b: u8) -> String {
        Address([b; 20]).to_string()
    }

    #[test]
    fn csv_with_comments_and_header() {
        let text = format!(
            "# round 1\n\naddress,weight\n{} , 250\n  # note\n{},750\n",
            addr(1),
            addr(2)
        );
        let c = parse(&text, "c.csv").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].address, Address([1; 20]));
        assert_eq!(c[0].weight, 250);
        assert_eq!(c[1].weight, 750);
    }

    #[test]
    fn json_with_string_and_number_weights() {
        let text = format!(
            r#"[{{"address":"{}","weight":"250"}},{{"address":"{}","weight":750}}]"#,
            addr(1),
            addr(2)
        );
        let c = parse(&text, "c.json").unwrap();
        assert_eq!(c.iter().map(|c| c.weight).collect::<Vec<_>>(), [250, 750]);
    }

    #[test]
    fn rejects_bad_lines_with_their_line_number() {
        let cases = [
            (format!("{},1\nnot-an-address,2\n", addr(1)), "line 2"),
            (format!("{},abc\n", addr(1)), "line 1"),
            (format!("{},0\n", addr(1)), "weight must be positive"),
            (format!("{},1,2\n", addr(1)), "found 3 fields"),
            (
                format!("{a},1\n{a},2\n", a = addr(1)),
                "duplicate contributor",
            ),
            ("# only comments\n".to_string(), "lists no contributors"),
            ("[{\"address\": 1}]".to_string(), "contributors file"),
        ];
        for (text, want) in cases {
            let err = parse(&text, "c.csv").unwrap_err().to_string();
            assert!(err.contains(want), "{err} does not contain {want}");
        }
    }
}
