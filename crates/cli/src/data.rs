//! Where training tokens come from, and `gradient data prepare`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use gradient_data::{
    Dataset, Document, Loader, PageLayout, Split, Tokenizer, input, pages, prepare,
};
use gradient_model::synthetic::SyntheticStream;
use gradient_model::{Batch, ModelConfig};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Tokenize text into shards: `--input bible` for the bundled corpus, or text/JSONL files.
    Prepare(PrepareArgs),
}

#[derive(Args)]
pub struct PrepareArgs {
    /// `bible`, or a .txt/.md/.jsonl file, or a directory of them.
    #[arg(long, env = "GRADIENT_DATA_INPUT")]
    input: String,
    /// Dataset directory to write.
    #[arg(long, env = "GRADIENT_DATA_OUT")]
    out: PathBuf,
    #[arg(long, default_value = "gpt2", env = "GRADIENT_TOKENIZER")]
    tokenizer: String,
    /// Tokens per shard file.
    #[arg(long, default_value_t = gradient_data::shard::DEFAULT_SHARD_TOKENS, env = "GRADIENT_SHARD_TOKENS")]
    shard_tokens: usize,
}

pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Prepare(args) => {
            let tokenizer = Tokenizer::from_name(&args.tokenizer)?;
            let docs = documents(&args.input)?;
            let manifest = prepare_with_progress(docs, &tokenizer, &args.out, args.shard_tokens)?;
            println!(
                "wrote {}: {} training and {} validation tokens ({})",
                args.out.display(),
                manifest.tokens(Split::Train),
                manifest.tokens(Split::Validation),
                manifest.tokenizer
            );
            Ok(())
        }
    }
}

/// The documents of `input` with their splits.
fn documents(input: &str) -> anyhow::Result<Vec<(Split, Document)>> {
    if input == "bible" {
        return Ok(gradient_data::bundled::bible_documents());
    }
    let mut docs = Vec::new();
    for file in input::input_files(Path::new(input))? {
        docs.extend(
            input::read_documents(&file)?
                .into_iter()
                .map(|d| (input::user_split(&d), d)),
        );
    }
    Ok(docs)
}

fn prepare_with_progress(
    docs: Vec<(Split, Document)>,
    tokenizer: &Tokenizer,
    out: &Path,
    shard_tokens: usize,
) -> anyhow::Result<gradient_data::shard::Manifest> {
    let total: u64 = docs.iter().map(|(_, d)| d.text.len() as u64).sum();
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{spinner} tokenizing [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let manifest = prepare(docs, tokenizer, out, shard_tokens, &|done| {
        bar.set_position(done)
    })?;
    bar.finish_and_clear();
    Ok(manifest)
}

/// The bundled corpus, tokenized once into the cache and reused after that.
fn bible_dataset() -> anyhow::Result<PathBuf> {
    let cache = gradient_data::bundled::cache_dir();
    let dir = cache.join("data").join("bible-gpt2-v1");
    if Dataset::open(&dir).is_ok() {
        return Ok(dir);
    }
    eprintln!(
        "tokenizing the bundled corpus into {} (once)",
        dir.display()
    );
    let bar = ProgressBar::new(gradient_data::bundled::bible_bytes()).with_style(
        ProgressStyle::with_template("{spinner} tokenizing [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let dir = gradient_data::bundled::bible_dataset(&cache, &|done| bar.set_position(done))?;
    bar.finish_and_clear();
    Ok(dir)
}

/// Training batches and fixed validation batches for local training.
pub enum DataSource {
    Synthetic {
        train: Box<SyntheticStream>,
        validation: Vec<Batch>,
        batch_size: usize,
        seq_len: usize,
    },
    Pages {
        loader: Loader,
        validation: Vec<Batch>,
        batch_size: usize,
        seq_len: usize,
    },
}

impl DataSource {
    /// `spec` is `bible`, `synthetic` or a dataset directory. Training walks the training split's
    /// sequences in an order fixed by `seed`, continuing after `sequences_done` on a resume.
    pub fn open(
        spec: &str,
        seed: u64,
        sequences_done: u64,
        config: &ModelConfig,
        batch_size: usize,
        seq_len: usize,
        eval_batches: usize,
    ) -> anyhow::Result<Self> {
        if spec == "synthetic" {
            let mut val = SyntheticStream::new(seed, u64::MAX - seed, config.vocab_size);
            let validation = (0..eval_batches)
                .map(|_| val.batch(batch_size, seq_len))
                .collect::<Result<_, _>>()?;
            return Ok(Self::Synthetic {
                train: Box::new(SyntheticStream::new(
                    seed,
                    seed.wrapping_add(sequences_done),
                    config.vocab_size,
                )),
                validation,
                batch_size,
                seq_len,
            });
        }
        let dir = if spec == "bible" {
            bible_dataset()?
        } else {
            PathBuf::from(spec)
        };
        let dataset = Arc::new(
            Dataset::open(&dir)
                .with_context(|| format!("opening the dataset {}", dir.display()))?,
        );
        let vocab = dataset.manifest().vocab_size;
        if vocab > config.vocab_size {
            bail!(
                "the dataset's tokenizer `{}` has {vocab} ids; the model's vocabulary has only {}",
                dataset.manifest().tokenizer,
                config.vocab_size
            );
        }
        let layout = PageLayout {
            seq_len,
            seqs_per_page: 1,
        };
        let split_pages =
            |split: Split| layout.num_pages(dataset.split(split).map_or(0, |s| s.len()));
        let (n_train, n_val) = (split_pages(Split::Train), split_pages(Split::Validation));
        if n_train == 0 || n_val == 0 {
            bail!(
                "{} has {n_train} training and {n_val} validation sequences of {} tokens; it needs both",
                dir.display(),
                seq_len + 1
            );
        }
        let mut order = pages::shuffled(seed, n_train);
        order.rotate_left((sequences_done % n_train) as usize);
        let val_stream = dataset
            .split(Split::Validation)
            .context("no validation split")?;
        let mut validation = Vec::new();
        for b in 0..eval_batches as u64 {
            let first = b * batch_size as u64;
            if first + batch_size as u64 > n_val {
                break;
            }
            let mut tokens = vec![0u32; batch_size * (seq_len + 1)];
            for (i, row) in tokens.chunks_mut(seq_len + 1).enumerate() {
                val_stream.read(layout.start(first + i as u64), row)?;
            }
            validation.push(Batch::new(tokens, batch_size, seq_len)?);
        }
        if validation.is_empty() {
            bail!(
                "{} has only {n_val} validation sequences; a batch needs {batch_size}",
                dir.display()
            );
        }
        let loader = Loader::new(dataset, Split::Train, layout, order, batch_size)?;
        Ok(Self::Pages {
            loader,
            validation,
            batch_size,
            seq_len,
        })
    }

    pub fn train_batch(&mut self) -> anyhow::Result<Batch> {
        Ok(match self {
            Self::Synthetic {
                train,
                batch_size,
                seq_len,
                ..
            } => train.batch(*batch_size, *seq_len)?,
            Self::Pages {
                loader,
                batch_size,
                seq_len,
                ..
            } => Batch::new(loader.next_batch()?, *batch_size, *seq_len)?,
        })
    }

    pub fn validation(&self) -> &[Batch] {
        match self {
            Self::Synthetic { validation, .. } | Self::Pages { validation, .. } => validation,
        }
    }
}
