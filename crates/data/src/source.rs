//! Byte-range sources: what data readers read from. A local file now; the store crate adds
//! object storage by implementing [`ByteSource`], and every reader built on it (Parquet) works
//! unchanged.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::DataError;

/// Random access to an immutable object by byte range.
pub trait ByteSource: Send + Sync {
    /// Total size in bytes.
    fn size(&self) -> u64;
    /// `len` bytes from `start`; reading past the end is an error.
    fn read_range(&self, start: u64, len: usize) -> Result<Vec<u8>, DataError>;
    /// A name for error messages.
    fn name(&self) -> String;
}

pub struct LocalFile {
    path: PathBuf,
    file: File,
    size: u64,
}

impl LocalFile {
    pub fn open(path: &Path) -> Result<Self, DataError> {
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let size = file.metadata().map_err(|e| DataError::io(path, e))?.len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            size,
        })
    }
}

impl ByteSource for LocalFile {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_range(&self, start: u64, len: usize) -> Result<Vec<u8>, DataError> {
        if start
            .checked_add(len as u64)
            .is_none_or(|end| end > self.size)
        {
            return Err(DataError::Input {
                path: self.path.clone(),
                why: format!(
                    "range {start}..+{len} is beyond the file's {} bytes",
                    self.size
                ),
            });
        }
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, start)
            .map_err(|e| DataError::io(&self.path, e))?;
        Ok(buf)
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}
