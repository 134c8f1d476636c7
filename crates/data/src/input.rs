//! User data as documents: plain text files (documents separated by blank lines), JSONL with a
//! `text` field, and Parquet with a `text` column, from a file or a directory of them.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use crate::corpus::{Document, Split};
use crate::error::DataError;
use crate::parquet_input::read_parquet;
use crate::source::{ByteSource, LocalFile};

/// Text and JSONL objects are read whole; larger ones must be split into several files.
const MAX_TEXT_BYTES: u64 = 4 << 30;

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
            let entry = entry.map_err(|e| DataError::io(&dir, e))?;
            let p = entry.path();
            // Real directories only: following symlinked ones could loop forever.
            let real_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if real_dir {
                stack.push(p);
            } else if p.is_file() && Format::of(&p.display().to_string()).is_some() {
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
    let format = Format::of(&path.display().to_string()).ok_or_else(|| DataError::Input {
        path: path.to_path_buf(),
        why: "not a .txt, .text, .md, .jsonl or .parquet file".to_string(),
    })?;
    read_source(Arc::new(LocalFile::open(path)?), format)
}

/// How an object's bytes hold documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// UTF-8 text, documents separated by blank lines.
    Text,
    /// One JSON object per line with a string field `text`.
    Jsonl,
    /// A Parquet file with a string column `text`.
    Parquet,
}

impl Format {
    /// The format a file or object name's extension says.
    pub fn of(name: &str) -> Option<Self> {
        match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("txt" | "text" | "md") => Some(Self::Text),
            Some("jsonl") => Some(Self::Jsonl),
            Some("parquet") => Some(Self::Parquet),
            _ => None,
        }
    }
}

/// The documents of one object read through a byte-range source (a local file, or an object in
/// a bucket once the store crate provides one). Text and JSONL objects are read whole, up to
/// `MAX_TEXT_BYTES`; Parquet is read by ranges.
pub fn read_source(
    source: Arc<dyn ByteSource>,
    format: Format,
) -> Result<Vec<Document>, DataError> {
    let name = source.name();
    let bad = |why: String| DataError::Input {
        path: name.clone().into(),
        why,
    };
    if format == Format::Parquet {
        return read_parquet(source, "text");
    }
    if source.size() > MAX_TEXT_BYTES {
        return Err(bad(format!(
            "{} bytes; text and JSONL objects over {MAX_TEXT_BYTES} bytes must be split",
            source.size()
        )));
    }
    let bytes = source.read_range(0, source.size() as usize)?;
    let text = String::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8 text: {e}")))?;
    if format == Format::Text {
        return Ok(text
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .enumerate()
            .map(|(i, p)| Document {
                name: format!("{name}#{i}"),
                text: p.to_string(),
            })
            .collect());
    }
    let mut docs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("line {n} is not JSON: {e}")))?;
        let text = value["text"]
            .as_str()
            .ok_or_else(|| bad(format!("line {n} has no string field `text`")))?;
        docs.push(Document {
            name: format!("{name}:{n}"),
            text: text.to_string(),
        });
    }
    Ok(docs)
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
