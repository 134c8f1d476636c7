//! Parquet with a text column (the FineWeb-Edu / DCLM layout) read over any [`ByteSource`].

use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, FileReader, Length, SerializedFileReader};
use parquet::record::RowAccessor;
use parquet::schema::types::Type;

use crate::corpus::Document;
use crate::error::DataError;
use crate::source::ByteSource;

/// Bytes fetched per request when parquet streams a column chunk.
const BLOCK: usize = 1 << 20;

/// Adapts a [`ByteSource`] to parquet's reader traits.
struct Chunks(Arc<dyn ByteSource>);

impl Length for Chunks {
    fn len(&self) -> u64 {
        self.0.size()
    }
}

impl ChunkReader for Chunks {
    type T = RangeReader;

    fn get_read(&self, start: u64) -> parquet::errors::Result<RangeReader> {
        Ok(RangeReader {
            source: self.0.clone(),
            pos: start,
            buf: Vec::new(),
            at: 0,
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.0
            .read_range(start, length)
            .map(Bytes::from)
            .map_err(|e| ParquetError::External(Box::new(e)))
    }
}

/// Sequential reads from `pos`, fetched in blocks.
struct RangeReader {
    source: Arc<dyn ByteSource>,
    pos: u64,
    buf: Vec<u8>,
    at: usize,
}

impl Read for RangeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buf.len() {
            let left = self.source.size().saturating_sub(self.pos);
            if left == 0 {
                return Ok(0);
            }
            let n = (BLOCK as u64).min(left) as usize;
            self.buf = self
                .source
                .read_range(self.pos, n)
                .map_err(std::io::Error::other)?;
            self.pos += n as u64;
            self.at = 0;
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The documents in `column` (a string column) of a Parquet object, one per row.
pub fn read_parquet(source: Arc<dyn ByteSource>, column: &str) -> Result<Vec<Document>, DataError> {
    let name = source.name();
    let bad = |why: String| DataError::Input {
        path: name.clone().into(),
        why,
    };
    let reader = SerializedFileReader::new(Chunks(source.clone()))
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let schema = reader.metadata().file_metadata().schema();
    let field = schema
        .get_fields()
        .iter()
        .find(|f| f.name() == column)
        .ok_or_else(|| {
            let names: Vec<&str> = schema.get_fields().iter().map(|f| f.name()).collect();
            bad(format!("no column `{column}`; the file has {names:?}"))
        })?;
    let projection = Type::group_type_builder(schema.name())
        .with_fields(vec![field.clone()])
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let rows = reader
        .get_row_iter(Some(projection))
        .map_err(|e| bad(format!("reading column `{column}`: {e}")))?;
    let mut docs = Vec::new();
    for (i, row) in rows.enumerate() {
        let row = row.map_err(|e| bad(format!("row {i}: {e}")))?;
        let text = row
            .get_string(0)
            .map_err(|_| bad(format!("row {i}: column `{column}` is not a string")))?;
        docs.push(Document {
            name: format!("{name}:{i}"),
            text: text.clone(),
        });
    }
    Ok(docs)
}
