//! Gradient's data: what miners train on and validators evaluate on.
//!
//! - [`Tokenizer`] turns text into ids (`gpt2` is GPT-2's BPE, embedded, offline).
//! - [`corpus::bible`] is the bundled corpus, the King James Bible, one [`Document`] per book,
//!   with [`corpus::bible_split`] holding whole books out for validation; [`input`] reads user
//!   text, JSONL and Parquet files as documents, Parquet over any [`source::ByteSource`].
//! - [`prepare()`] tokenizes documents in parallel into [`shard`]s; [`Dataset::open`] checks
//!   and memory-maps them, one [`TokenStream`] per [`Split`].
//! - [`pages`] cuts a split into pages and assigns them: [`pages::assigned_pages`] for a miner
//!   in a window, [`pages::evaluation_pages`] for a validator after the window closed.
//! - [`Loader`] turns pages into batches on a background thread.
//!
//! ```no_run
//! use std::sync::Arc;
//! use gradient_data::{corpus, pages, prepare, Dataset, Loader, PageLayout, Split, Tokenizer};
//!
//! let docs = corpus::bible().into_iter().enumerate().map(|(i, d)| (corpus::bible_split(i), d)).collect();
//! prepare(docs, &Tokenizer::gpt2(), "data/bible".as_ref(), 1 << 24, &|_| {})?;
//! let dataset = Arc::new(Dataset::open("data/bible".as_ref())?);
//! let layout = PageLayout { seq_len: 128, seqs_per_page: 8 };
//! let n = layout.num_pages(dataset.split(Split::Train).map_or(0, |s| s.len()));
//! let mine = pages::assigned_pages(42, 7, "5F...hotkey", 4, n)?;
//! let loader = Loader::new(dataset, Split::Train, layout, mine, 8)?;
//! let batch: Vec<u32> = loader.next_batch()?;
//! # Ok::<(), gradient_data::DataError>(())
//! ```

pub mod bundled;
pub mod corpus;
mod error;
pub mod input;
mod loader;
pub mod pages;
mod parquet_input;
mod prepare;
pub mod shard;
pub mod source;
mod tokenizer;

pub use corpus::{Document, Split};
pub use error::DataError;
pub use loader::Loader;
pub use pages::PageLayout;
pub use parquet_input::read_parquet;
pub use prepare::prepare;
pub use shard::{Dataset, TokenStream};
pub use tokenizer::{GPT2_END_OF_TEXT, Tokenizer};
