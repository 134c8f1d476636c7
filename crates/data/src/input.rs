//! User data as documents: plain text files (documents separated by blank lines), JSONL with a
//! `text` field, and Parquet with a `text` column, from a file or a directory of them.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use crate::corpus::{Document, Split};
use crate::error::DataError;
use crate::parquet_input::read_parquet;
use crate::source::LocalFile;

/// One JSONL line longer than this is refused rather than read.
const MAX_LINE_BYTES: usize = 64 << 20;

/// The files under `path` (itself if a file), sorted, that are `.txt`, `.text`, `.md`, `.jsonl`
/// or `.parquet`.
pub fn input_files(path: &Path) -> Result<Vec<PathBuf>, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| DataError::io(&dir, e))? {
            let p = entry.map_err(|e| DataError::io(&dir, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("txt" | "text" | "md" | "jsonl" | "parquet")
            ) {
                files.push(p);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(DataError::Input {
            path: path.to_path_buf(),
            why: "no .txt, .text, .md or .jsonl files found (Parquet is not supported yet)"
                .to_string(),
        });
    }
    Ok(files)
}

/// The documents of one file.
pub fn read_documents(path: &Path) -> Result<Vec<Document>, DataError> {
    let bad = |why: String| DataError::Input {
        path: path.to_path_buf(),
        why,
    };
    let name = path.display().to_string();
    if path.extension().and_then(|e| e.to_str()) == Some("parquet") {
        let source = Arc::new(LocalFile::open(path)?);
        return read_parquet(source, "text");
    }
    if path.extension().and_then(|e| e.to_str()) == Some("jsonl") {
        let f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        let mut docs = Vec::new();
        let mut reader = BufReader::new(f);
        let mut line = String::new();
        for n in 1.. {
            line.clear();
            let read = (&mut reader)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_line(&mut line)
                .map_err(|e| bad(format!("line {n}: {e}")))?;
            if read == 0 {
                break;
            }
            if read > MAX_LINE_BYTES {
                return Err(bad(format!(
                    "line {n} is longer than {MAX_LINE_BYTES} bytes"
                )));
            }
            if line.trim().is_empty() {
                continue;
            }
            let value: serde_json::Value = serde_json::from_str(&line)
                .map_err(|e| bad(format!("line {n} is not JSON: {e}")))?;
            let text = value["text"]
                .as_str()
                .ok_or_else(|| bad(format!("line {n} has no string field `text`")))?;
            docs.push(Document {
                name: format!("{name}:{n}"),
                text: text.to_string(),
            });
        }
        return Ok(docs);
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("not UTF-8 text: {e}")))?;
    Ok(text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .enumerate()
        .map(|(i, p)| Document {
            name: format!("{name}#{i}"),
            text: p.to_string(),
        })
        .collect())
}

/// About one user document in ten goes to validation, decided by a hash of its name so that the
/// split does not depend on the order files are read in.
pub fn user_split(doc: &Document) -> Split {
    if blake3::hash(doc.name.as_bytes()).as_bytes()[0] < 26 {
        Split::Validation
    } else {
        Split::Train
    }
}
