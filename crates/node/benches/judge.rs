//! What judging one submission costs a validator, against one forward pass over the window's
//! evaluation pages (the least any loss-based validator must spend per submission):
//!
//!     cargo bench -p gradient-node --bench judge          # BENCH_ROUNDS=5 by default
//!
//! Submissions are real: miners train from the genesis master of the devnet run on their own
//! pages and compress with the run's codec. Judging one is everything the validator does with
//! it after the download: strict decode, the dense delta (for copy detection and norms), and
//! the measurement (loss after on the evaluation pages, before and after on the miner's pages).
//! Also printed: bytes per submission against the dense f32 delta.

use std::time::Instant;

use gradient_chain::Keypair;
use gradient_codec::ErrorFeedback;
use gradient_data::Split;
use gradient_data::pages::evaluation_pages;
use gradient_model::{Device, Model, ModelConfig};
use gradient_node::validator::{self, Judge};
use gradient_node::{Master, RunContext, miner};
use gradient_protocol::RunConfig;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let run = RunConfig::devnet(0);
    let ctx = RunContext::new(run.clone(), Device::flex()).expect("run context");
    let config = ModelConfig::preset(&run.model.preset).expect("preset");
    let genesis = Model::new(config, run.seed, &Device::flex()).expect("model");
    let base = Master::new(
        genesis
            .read_params()
            .expect("params")
            .into_iter()
            .map(|p| p.values)
            .collect(),
    );

    let miners: Vec<Keypair> = (0..3)
        .map(|i| Keypair::dev(&format!("bench miner {i}")))
        .collect();
    let mut payloads = Vec::new();
    for key in &miners {
        let pages = miner::pages_for(&ctx, 0, &key.account()).expect("pages");
        let (delta, _) =
            miner::train_window(&ctx, 0, &base, &pages, &|r| r.steps >= 12).expect("train");
        let mut feedback = ErrorFeedback::new(&ctx.codec, miner::FEEDBACK_BETA);
        payloads.push(miner::compress(&ctx, &mut feedback, &delta).expect("compress"));
    }
    let seed = validator::eval_seed(&ctx.id, 0, &[7; 32]);
    let judge = Judge::new(&ctx, &base, 0, seed).expect("judge");
    let pages = evaluation_pages(
        &seed,
        run.scoring.eval_pages,
        ctx.corpus.num_pages(Split::Validation),
    )
    .expect("pages");
    let eval = ctx
        .corpus
        .page_batches(Split::Validation, &pages)
        .expect("batches");
    let model = ctx.model_from(&base.params).expect("model");

    let mut forward = Vec::new();
    let mut per_submission = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        std::hint::black_box(ctx.mean_loss(&model, &eval).expect("loss"));
        forward.push(t.elapsed().as_secs_f64());
        for (key, payload) in miners.iter().zip(&payloads) {
            let t = Instant::now();
            let delta = judge.decode(payload).expect("decodes");
            let dense = judge.dense(&delta).expect("dense");
            std::hint::black_box(validator::delta_norm(&dense));
            let m = judge.measure(&key.account(), &dense).expect("measure");
            std::hint::black_box(validator::score(&ctx, &m).ok());
            per_submission.push(t.elapsed().as_secs_f64());
        }
    }
    let (forward, judged) = (median(forward), median(per_submission));
    println!(
        "model {} ({} parameters), {} evaluation pages of {} x {} tokens, {} own pages",
        run.model.preset,
        ctx.specs.iter().map(|s| s.numel()).sum::<usize>(),
        run.scoring.eval_pages,
        run.data.seqs_per_page,
        run.data.seq_len,
        run.scoring.own_pages
    );
    println!("one evaluation forward pass (baseline): {:.3} s", forward);
    println!(
        "judging one submission: {:.3} s = {:.2}x the forward pass (goal <= 2.5x)",
        judged,
        judged / forward
    );
    let bytes = payloads.iter().map(Vec::len).sum::<usize>() / payloads.len();
    println!(
        "bytes per submission: {} against {} dense f32 = {:.0}x smaller",
        bytes,
        ctx.codec.dense_bytes(),
        ctx.codec.dense_bytes() as f64 / bytes as f64
    );
}
