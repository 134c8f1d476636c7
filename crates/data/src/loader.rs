//! Batches from pages, prepared on a background thread a few batches ahead so the trainer never
//! waits for data.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::corpus::Split;
use crate::error::DataError;
use crate::pages::PageLayout;
use crate::shard::Dataset;

/// Batches ready ahead of the trainer.
const PREFETCH: usize = 4;

/// An endless stream of batches (`batch_size` rows of `seq_len + 1` tokens, flat) that walks the
/// given pages in order, sequence by sequence, and starts over at the end.
pub struct Loader {
    batches: Receiver<Result<Vec<u32>, DataError>>,
    worker: Option<JoinHandle<()>>,
}

impl Loader {
    pub fn new(
        dataset: Arc<Dataset>,
        split: Split,
        layout: PageLayout,
        pages: Vec<u64>,
        batch_size: usize,
    ) -> Result<Self, DataError> {
        let tokens = dataset.split(split).map_or(0, |s| s.len());
        let available = layout.num_pages(tokens);
        if pages.is_empty() || batch_size == 0 {
            return Err(DataError::Pages {
                why: format!(
                    "the {} split needs at least one page and a positive batch size",
                    split.name()
                ),
            });
        }
        if let Some(&bad) = pages.iter().find(|&&p| p >= available) {
            return Err(DataError::Pages {
                why: format!(
                    "page {bad} is beyond the {} split's {available} pages",
                    split.name()
                ),
            });
        }
        let (tx, rx) = sync_channel(PREFETCH);
        let worker = std::thread::Builder::new()
            .name("gradient-loader".to_string())
            .spawn(move || produce(&dataset, split, layout, &pages, batch_size, tx))
            .map_err(|e| DataError::Pages {
                why: format!("cannot start the loader thread: {e}"),
            })?;
        Ok(Self {
            batches: rx,
            worker: Some(worker),
        })
    }

    /// The next batch; blocks only if the loader has fallen behind.
    pub fn next_batch(&self) -> Result<Vec<u32>, DataError> {
        self.batches.recv().unwrap_or_else(|_| {
            Err(DataError::Pages {
                why: "the loader thread stopped".to_string(),
            })
        })
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Dropping the receiver makes the worker's next send fail, which ends it.
        let (_, dead) = sync_channel(0);
        drop(std::mem::replace(&mut self.batches, dead));
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn produce(
    dataset: &Dataset,
    split: Split,
    layout: PageLayout,
    pages: &[u64],
    batch_size: usize,
    tx: SyncSender<Result<Vec<u32>, DataError>>,
) {
    let Some(stream) = dataset.split(split) else {
        return;
    };
    let row = layout.seq_len + 1;
    let sequences = pages
        .iter()
        .flat_map(|&p| (0..layout.seqs_per_page).map(move |s| layout.start(p) + (s * row) as u64))
        .cycle();
    let mut batch = vec![0u32; batch_size * row];
    let mut filled = 0;
    for start in sequences {
        let result = stream.read(start, &mut batch[filled * row..(filled + 1) * row]);
        if let Err(e) = result {
            let _ = tx.send(Err(e));
            return;
        }
        filled += 1;
        if filled == batch_size {
            if tx.send(Ok(batch.clone())).is_err() {
                return;
            }
            filled = 0;
        }
    }
}
