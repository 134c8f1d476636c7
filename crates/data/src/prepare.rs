//! Tokenizing documents into shards, in parallel, in a fixed order.

use std::path::Path;

use rayon::prelude::*;

use crate::corpus::{Document, Split};
use crate::error::DataError;
use crate::shard::{Manifest, ShardWriter};
use crate::tokenizer::Tokenizer;

/// Documents tokenized at once: enough to keep every core busy, few enough to bound memory.
const BATCH_DOCS: usize = 256;

/// Tokenizes `documents` (each with its split) into `out`, an end-of-text id after each document.
/// `progress` is called with the number of text bytes done so far.
pub fn prepare(
    documents: Vec<(Split, Document)>,
    tokenizer: &Tokenizer,
    out: &Path,
    shard_tokens: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Manifest, DataError> {
    let mut manifest = Manifest::new(&tokenizer.name(), tokenizer.vocab_size());
    let mut train = ShardWriter::new(out, Split::Train, tokenizer.vocab_size(), shard_tokens)?;
    let mut validation =
        ShardWriter::new(out, Split::Validation, tokenizer.vocab_size(), shard_tokens)?;
    let mut done = 0u64;
    for batch in documents.chunks(BATCH_DOCS) {
        let encoded: Vec<Vec<u32>> = batch
            .par_iter()
            .map(|(_, d)| {
                let mut ids = tokenizer.encode(&d.text)?;
                ids.push(tokenizer.end_of_text());
                Ok(ids)
            })
            .collect::<Result<_, DataError>>()?;
        for ((split, doc), ids) in batch.iter().zip(encoded) {
            match split {
                Split::Train => train.push(&ids)?,
                Split::Validation => validation.push(&ids)?,
            }
            done += doc.text.len() as u64;
        }
        progress(done);
    }
    manifest
        .splits
        .insert(Split::Train.name().to_string(), train.finish()?);
    manifest
        .splits
        .insert(Split::Validation.name().to_string(), validation.finish()?);
    manifest.write(out)?;
    Ok(manifest)
}
