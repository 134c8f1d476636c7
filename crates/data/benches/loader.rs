//! Loader throughput against training throughput, in one run:
//!
//!     cargo bench -p gradient-data --bench loader
//!
//! Tokenizes the bundled corpus into a temporary directory, then (1) pulls batches of the
//! `small` preset's shape (8 x 256) from a `Loader` over shuffled pages and (2) trains the
//! `small` preset for a few steps on the same batches. The loader must outrun training by 100x
//! or more, so prefetching always keeps up.

use std::sync::Arc;
use std::time::Instant;

use gradient_data::{Dataset, Loader, PageLayout, Split, Tokenizer, corpus, pages, prepare};
use gradient_model::{Batch, Model, ModelConfig, TrainConfig, Trainer, parse_device};

fn main() {
    let (batch_size, seq_len) = (8, 256);
    let dir = tempfile::tempdir().expect("temporary directory");
    let docs = corpus::bible()
        .into_iter()
        .enumerate()
        .map(|(i, d)| (corpus::bible_split(i), d))
        .collect();
    let t0 = Instant::now();
    let manifest =
        prepare(docs, &Tokenizer::gpt2(), dir.path(), 1 << 20, &|_| {}).expect("prepare");
    let prep_s = t0.elapsed().as_secs_f64();
    let corpus_tokens = manifest.tokens(Split::Train) + manifest.tokens(Split::Validation);
    println!(
        "prepare: {corpus_tokens} tokens in {prep_s:.2} s ({:.0} tokens/s)",
        corpus_tokens as f64 / prep_s
    );

    let dataset = Arc::new(Dataset::open(dir.path()).expect("open"));
    let layout = PageLayout {
        seq_len,
        seqs_per_page: 1,
    };
    let n = layout.num_pages(dataset.split(Split::Train).map_or(0, |s| s.len()));
    let loader = Loader::new(
        dataset.clone(),
        Split::Train,
        layout,
        pages::shuffled(0, n),
        batch_size,
    )
    .expect("loader");
    let batches = 2000;
    let t0 = Instant::now();
    let mut kept = Vec::new();
    for i in 0..batches {
        let b = loader.next_batch().expect("batch");
        if i < 4 {
            kept.push(b);
        }
    }
    let loader_tps = (batches * batch_size * seq_len) as f64 / t0.elapsed().as_secs_f64();
    println!("loader: {loader_tps:.0} tokens/s ({batches} batches of {batch_size}x{seq_len})");

    let device = parse_device("cpu").expect("cpu");
    let model =
        Model::new(ModelConfig::preset("small").expect("preset"), 0, &device).expect("model");
    let mut trainer = Trainer::new(model, TrainConfig::default()).expect("trainer");
    let batches: Vec<Batch> = kept
        .into_iter()
        .map(|t| Batch::new(t, batch_size, seq_len).expect("batch"))
        .collect();
    trainer.step(&batches[..1]).expect("warm-up step");
    let t0 = Instant::now();
    for b in &batches[1..] {
        trainer.step(std::slice::from_ref(b)).expect("step");
    }
    let train_tps =
        ((batches.len() - 1) * batch_size * seq_len) as f64 / t0.elapsed().as_secs_f64();
    println!("training (small preset): {train_tps:.0} tokens/s");
    println!(
        "loader / training: {:.0}x (goal >= 100x)",
        loader_tps / train_tps
    );
}
