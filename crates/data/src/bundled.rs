//! The bundled corpus as a ready dataset: tokenized once into a cache directory and reused, so
//! every process of a devnet trains on the same shards without preparing them again.

use std::path::{Path, PathBuf};

use crate::corpus::{self, Document, Split};
use crate::error::DataError;
use crate::prepare::prepare;
use crate::shard::{DEFAULT_SHARD_TOKENS, Dataset};
use crate::tokenizer::Tokenizer;

/// `$GRADIENT_CACHE`, else `$XDG_CACHE_HOME/gradient`, else `~/.cache/gradient`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GRADIENT_CACHE") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("gradient");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("gradient")
}

/// The bundled corpus's documents with their splits.
pub fn bible_documents() -> Vec<(Split, Document)> {
    corpus::bible()
        .into_iter()
        .enumerate()
        .map(|(i, d)| (corpus::bible_split(i), d))
        .collect()
}

/// The bundled corpus tokenized with GPT-2 under `cache`, prepared on first use. `progress`
/// hears bytes tokenized so far.
pub fn bible_dataset(cache: &Path, progress: &(dyn Fn(u64) + Sync)) -> Result<PathBuf, DataError> {
    let dir = cache.join("data").join("bible-gpt2-v1");
    if Dataset::open(&dir).is_ok() {
        return Ok(dir);
    }
    // Prepared beside the final place and renamed into it, so a crash or a concurrent process
    // never leaves a half-written dataset where readers look.
    let tmp = crate::shard::temporary(&dir);
    let _ = std::fs::remove_dir_all(&tmp);
    prepare(
        bible_documents(),
        &Tokenizer::gpt2(),
        &tmp,
        DEFAULT_SHARD_TOKENS,
        progress,
    )?;
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process got there first (or a broken copy is in the way): keep a valid one.
        if Dataset::open(&dir).is_err() {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::rename(&tmp, &dir).map_err(|source| DataError::Io {
                path: dir.clone(),
                source,
            })?;
        } else {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    Ok(dir)
}

/// Total bytes of text in the bundled corpus, for progress bars.
pub fn bible_bytes() -> u64 {
    bible_documents()
        .iter()
        .map(|(_, d)| d.text.len() as u64)
        .sum()
}
