//! The run's data as pages: miners train on their assigned training pages; validators evaluate
//! on pages drawn after a window closes. A page is `seqs_per_page` rows of `seq_len + 1` tokens.

use std::path::PathBuf;

use gradient_data::{Dataset, PageLayout, Split};
use gradient_model::Batch;
use gradient_protocol::RunConfig;

use crate::error::NodeError;

pub struct Corpus {
    dataset: Dataset,
    pub layout: PageLayout,
}

impl Corpus {
    /// Opens the dataset the run names: `bible` (prepared once into the cache) or a directory
    /// made by `gradient data prepare`.
    pub fn open(run: &RunConfig) -> Result<Self, NodeError> {
        let dir = if run.data.source == "bible" {
            gradient_data::bundled::bible_dataset(&gradient_data::bundled::cache_dir(), &|_| {})?
        } else {
            PathBuf::from(run.data.source.trim_start_matches("file://"))
        };
        let dataset = Dataset::open(&dir)?;
        if dataset.manifest().tokenizer != run.data.tokenizer
            && !(run.data.tokenizer == "gpt2" && dataset.manifest().tokenizer.starts_with("gpt2"))
        {
            return Err(NodeError::Invalid(format!(
                "{} was tokenized with {}, the run needs {}",
                dir.display(),
                dataset.manifest().tokenizer,
                run.data.tokenizer
            )));
        }
        let layout = PageLayout {
            seq_len: run.data.seq_len,
            seqs_per_page: run.data.seqs_per_page,
        };
        Ok(Corpus { dataset, layout })
    }

    /// Whole pages in a split.
    pub fn num_pages(&self, split: Split) -> u64 {
        self.dataset
            .split(split)
            .map_or(0, |s| self.layout.num_pages(s.len()))
    }

    fn page_tokens(&self, split: Split, page: u64) -> Result<Vec<u32>, NodeError> {
        let stream = self
            .dataset
            .split(split)
            .ok_or_else(|| NodeError::Invalid(format!("the dataset has no {split:?} split")))?;
        let mut tokens = vec![0u32; self.layout.tokens_per_page() as usize];
        stream.read(self.layout.start(page), &mut tokens)?;
        Ok(tokens)
    }

    /// One batch per page, each row a sequence of the page.
    pub fn page_batches(&self, split: Split, pages: &[u64]) -> Result<Vec<Batch>, NodeError> {
        pages
            .iter()
            .map(|&p| {
                Ok(Batch::new(
                    self.page_tokens(split, p)?,
                    self.layout.seqs_per_page,
                    self.layout.seq_len,
                )?)
            })
            .collect()
    }

    /// The sequences of `pages`, regrouped into batches of `batch_size` rows (a short last batch
    /// is dropped unless it is the only one).
    pub fn training_batches(
        &self,
        pages: &[u64],
        batch_size: usize,
    ) -> Result<Vec<Batch>, NodeError> {
        let row = self.layout.seq_len + 1;
        let mut rows: Vec<u32> = Vec::new();
        for &p in pages {
            rows.extend(self.page_tokens(Split::Train, p)?);
        }
        let total_rows = rows.len() / row;
        let mut batches = Vec::new();
        for start in (0..total_rows).step_by(batch_size) {
            let n = batch_size.min(total_rows - start);
            if n < batch_size && !batches.is_empty() {
                break;
            }
            let tokens = rows[start * row..(start + n) * row].to_vec();
            batches.push(Batch::new(tokens, n, self.layout.seq_len)?);
        }
        Ok(batches)
    }
}
