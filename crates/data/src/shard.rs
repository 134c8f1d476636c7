//! Token shards: fixed-size binary files of little-endian token ids behind a 32-byte header
//! (magic, version, dtype, count), listed per split in `manifest.json` with their blake3.
//!
//! Readers memory-map each shard after checking its size, header and hash against the
//! manifest, so a corrupt, truncated or swapped shard is an error before any token is used.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};

use crate::corpus::Split;
use crate::error::DataError;

pub const MANIFEST: &str = "manifest.json";
const MAGIC: &[u8; 8] = b"GRADTOKN";
const VERSION: u32 = 1;
const HEADER_BYTES: usize = 32;
const FORMAT: &str = "gradient-tokens";
const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// Tokens per shard unless a writer is told otherwise (32 MiB of u16).
pub const DEFAULT_SHARD_TOKENS: usize = 1 << 24;

/// Width of a stored token id: u16 when the vocabulary fits, else u32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    U16,
    U32,
}

impl Dtype {
    pub fn for_vocab(vocab_size: usize) -> Self {
        if vocab_size <= 1 << 16 {
            Self::U16
        } else {
            Self::U32
        }
    }

    fn width(self) -> usize {
        match self {
            Self::U16 => 2,
            Self::U32 => 4,
        }
    }

    fn code(self) -> u32 {
        self.width() as u32
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub tokenizer: String,
    pub vocab_size: usize,
    pub dtype: Dtype,
    /// Shards of each split ("train", "validation"), in stream order.
    pub splits: BTreeMap<String, Vec<ShardEntry>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardEntry {
    pub file: String,
    pub tokens: u64,
    pub bytes: u64,
    pub blake3: String,
}

impl Manifest {
    pub fn new(tokenizer: &str, vocab_size: usize) -> Self {
        Self {
            format: FORMAT.to_string(),
            version: VERSION,
            tokenizer: tokenizer.to_string(),
            vocab_size,
            dtype: Dtype::for_vocab(vocab_size),
            splits: BTreeMap::new(),
        }
    }

    pub fn tokens(&self, split: Split) -> u64 {
        self.splits
            .get(split.name())
            .map_or(0, |s| s.iter().map(|e| e.tokens).sum())
    }

    /// Writes the manifest last, after every shard it names.
    pub fn write(&self, dir: &Path) -> Result<(), DataError> {
        let path = dir.join(MANIFEST);
        let json =
            serde_json::to_vec_pretty(self).map_err(|e| DataError::shard(&path, e.to_string()))?;
        write_atomic(&path, &json)
    }
}

/// Writes one split's token stream as shards of `shard_tokens` tokens (the last may be shorter).
pub struct ShardWriter {
    dir: PathBuf,
    split: Split,
    dtype: Dtype,
    vocab_size: usize,
    shard_tokens: usize,
    buffer: Vec<u32>,
    entries: Vec<ShardEntry>,
}

impl ShardWriter {
    pub fn new(
        dir: &Path,
        split: Split,
        vocab_size: usize,
        shard_tokens: usize,
    ) -> Result<Self, DataError> {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            split,
            dtype: Dtype::for_vocab(vocab_size),
            vocab_size,
            shard_tokens: shard_tokens.max(1),
            buffer: Vec::new(),
            entries: Vec::new(),
        })
    }

    pub fn push(&mut self, tokens: &[u32]) -> Result<(), DataError> {
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.vocab_size) {
            return Err(DataError::Tokenizer {
                why: format!(
                    "token id {bad} is outside the vocabulary of {}",
                    self.vocab_size
                ),
            });
        }
        self.buffer.extend_from_slice(tokens);
        while self.buffer.len() >= self.shard_tokens {
            let rest = self.buffer.split_off(self.shard_tokens);
            let full = std::mem::replace(&mut self.buffer, rest);
            self.flush(&full)?;
        }
        Ok(())
    }

    /// Writes what is left and returns the shards written, in order.
    pub fn finish(mut self) -> Result<Vec<ShardEntry>, DataError> {
        let rest = std::mem::take(&mut self.buffer);
        if !rest.is_empty() {
            self.flush(&rest)?;
        }
        Ok(self.entries)
    }

    fn flush(&mut self, tokens: &[u32]) -> Result<(), DataError> {
        let file = format!("{}-{:05}.bin", self.split.name(), self.entries.len());
        let bytes = encode_shard(tokens, self.dtype);
        write_atomic(&self.dir.join(&file), &bytes)?;
        self.entries.push(ShardEntry {
            file,
            tokens: tokens.len() as u64,
            bytes: bytes.len() as u64,
            blake3: blake3::hash(&bytes).to_hex().to_string(),
        });
        Ok(())
    }
}

fn encode_shard(tokens: &[u32], dtype: Dtype) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_BYTES + tokens.len() * dtype.width());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&dtype.code().to_le_bytes());
    bytes.extend_from_slice(&(tokens.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    match dtype {
        Dtype::U16 => tokens
            .iter()
            .for_each(|&t| bytes.extend_from_slice(&(t as u16).to_le_bytes())),
        Dtype::U32 => tokens
            .iter()
            .for_each(|&t| bytes.extend_from_slice(&t.to_le_bytes())),
    }
    bytes
}

/// A prepared dataset: its manifest and the memory-mapped shards of each split.
pub struct Dataset {
    manifest: Manifest,
    splits: BTreeMap<String, TokenStream>,
}

impl Dataset {
    /// Opens `dir`, checking every shard listed in its manifest.
    pub fn open(dir: &Path) -> Result<Self, DataError> {
        let path = dir.join(MANIFEST);
        let bytes = read_bounded(&path, MAX_MANIFEST_BYTES)?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| DataError::shard(&path, format!("not a valid dataset manifest: {e}")))?;
        if manifest.format != FORMAT || manifest.version != VERSION {
            return Err(DataError::shard(
                &path,
                format!(
                    "format {} version {} is not {FORMAT} version {VERSION}",
                    manifest.format, manifest.version
                ),
            ));
        }
        if manifest.dtype != Dtype::for_vocab(manifest.vocab_size) {
            return Err(DataError::shard(
                &path,
                "dtype does not fit the vocabulary size",
            ));
        }
        let mut splits = BTreeMap::new();
        for (name, entries) in &manifest.splits {
            let shards = entries
                .iter()
                .map(|e| MappedShard::open(&dir.join(&e.file), e, manifest.dtype))
                .collect::<Result<Vec<_>, _>>()?;
            splits.insert(name.clone(), TokenStream::new(shards));
        }
        Ok(Self { manifest, splits })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The split's tokens; an empty stream when the dataset has none.
    pub fn split(&self, split: Split) -> Option<&TokenStream> {
        self.splits.get(split.name())
    }
}

struct MappedShard {
    map: Mmap,
    dtype: Dtype,
    tokens: usize,
}

impl MappedShard {
    fn open(path: &Path, entry: &ShardEntry, dtype: Dtype) -> Result<Self, DataError> {
        if entry.file.contains(['/', '\\']) || entry.file.starts_with('.') {
            return Err(DataError::shard(
                path,
                "shard names must be plain file names",
            ));
        }
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
        let expected = HEADER_BYTES as u64 + entry.tokens * dtype.width() as u64;
        if len != entry.bytes || len != expected {
            return Err(DataError::shard(
                path,
                format!(
                    "{len} bytes on disk; the manifest says {} tokens in {} bytes (truncated or replaced?)",
                    entry.tokens, entry.bytes
                ),
            ));
        }
        // SAFETY: shards are written once (to a temporary, then renamed) and never modified in
        // place; the size was checked above, and the hash below covers every mapped byte.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| DataError::io(path, e))?;
        let hash = blake3::hash(&map).to_hex();
        if hash.as_str() != entry.blake3 {
            return Err(DataError::shard(
                path,
                format!(
                    "blake3 {hash} does not match the manifest's {} (corrupt shard)",
                    entry.blake3
                ),
            ));
        }
        let header = &map[..HEADER_BYTES];
        let field = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let count = u64::from_le_bytes(header[16..24].try_into().expect("8 bytes"));
        if &header[..8] != MAGIC
            || field(8) != VERSION
            || field(12) != dtype.code()
            || count != entry.tokens
        {
            return Err(DataError::shard(
                path,
                "header does not match the manifest (magic, version, dtype or count)",
            ));
        }
        Ok(Self {
            map,
            dtype,
            tokens: entry.tokens as usize,
        })
    }

    fn token(&self, i: usize) -> u32 {
        let at = HEADER_BYTES + i * self.dtype.width();
        let b = &self.map[at..at + self.dtype.width()];
        match self.dtype {
            Dtype::U16 => u16::from_le_bytes([b[0], b[1]]) as u32,
            Dtype::U32 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        }
    }
}

/// One split's shards read as one stream of tokens.
pub struct TokenStream {
    shards: Vec<MappedShard>,
    /// Token index at which each shard starts.
    starts: Vec<u64>,
    len: u64,
}

impl TokenStream {
    fn new(shards: Vec<MappedShard>) -> Self {
        let mut starts = Vec::with_capacity(shards.len());
        let mut len = 0u64;
        for s in &shards {
            starts.push(len);
            len += s.tokens as u64;
        }
        Self {
            shards,
            starts,
            len,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills `out` with the tokens from `start`, crossing shard boundaries as needed.
    pub fn read(&self, start: u64, out: &mut [u32]) -> Result<(), DataError> {
        let end = start
            .checked_add(out.len() as u64)
            .filter(|&e| e <= self.len)
            .ok_or_else(|| DataError::Pages {
                why: format!(
                    "tokens {start}..+{} are beyond the split's {}",
                    out.len(),
                    self.len
                ),
            })?;
        let mut shard = self
            .starts
            .partition_point(|&s| s <= start)
            .saturating_sub(1);
        let mut pos = start;
        let mut filled = 0;
        while pos < end {
            let s = &self.shards[shard];
            let local = (pos - self.starts[shard]) as usize;
            let take = (s.tokens - local).min((end - pos) as usize);
            for (i, slot) in out[filled..filled + take].iter_mut().enumerate() {
                *slot = s.token(local + i);
            }
            filled += take;
            pos += take as u64;
            shard += 1;
        }
        Ok(())
    }
}

fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, DataError> {
    let f = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut bytes = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| DataError::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(DataError::shard(path, format!("larger than {max} bytes")));
    }
    Ok(bytes)
}

/// A temporary name beside `path`, unique to this process and this call: threads of one process
/// preparing the same thing at once must not write into each other's files.
pub(crate) fn temporary(path: &Path) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_extension(format!("tmp{}-{n}", std::process::id()))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let tmp = temporary(path);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::io(path, e)
    })
}
