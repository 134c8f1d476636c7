//! `gradient bench quality`: how much of the miners' work reaches the master, against one
//! machine training the same model on the same tokens (see `gradient_node::quality`).

use anyhow::Result;
use clap::{Args, Subcommand};
use gradient_codec::{Factoring, Values};
use gradient_model::parse_device;
use gradient_node::RunContext;
use gradient_node::quality::{self, QualitySetup, WindowQuality};
use gradient_protocol::RunConfig;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// The devnet run's protocol with a fixed number of inner steps per window, in one process,
    /// against one machine on the same tokens; prints both losses and their ratio.
    Quality(QualityArgs),
}

#[derive(Args)]
pub struct QualityArgs {
    #[arg(long, default_value_t = 3, env = "GRADIENT_MINERS")]
    miners: usize,
    #[arg(long, default_value_t = 6, env = "GRADIENT_WINDOWS")]
    windows: u64,
    /// Inner steps each miner takes per window.
    #[arg(long, default_value_t = 28, env = "GRADIENT_STEPS_PER_WINDOW")]
    steps_per_window: u64,
    /// Pages per miner and window [default: the run's].
    #[arg(long, env = "GRADIENT_PAGES_PER_WINDOW")]
    pages_per_window: Option<usize>,
    /// Send every value as f32, uncompressed (no factors, no selection).
    #[arg(long)]
    dense: bool,
    /// Select the tiles' DCT coefficients instead of their values [default: the run's].
    #[arg(long)]
    dct: Option<bool>,
    /// How kept values are stored: q2, q4, q8, f16, bf16, f32 [default: the run's].
    #[arg(long)]
    values: Option<String>,
    /// Send matrices as factors of this rank, 0 for the run's top-k [default: the run's].
    #[arg(long)]
    rank: Option<usize>,
    /// With factors, also send whole this many per thousand of each matrix's rows where the
    /// factors leave most [default: the run's].
    #[arg(long)]
    rows_per_mille: Option<usize>,
    /// With factors, one matrix at its own rank, rows sent whole per thousand and bits per
    /// code of those rows (2..=8, default 8): `NAME=RANK`, `NAME=RANK:ROWS_PER_MILLE` or
    /// `NAME=RANK:ROWS_PER_MILLE:ROW_BITS`, repeated for more; `none` for every matrix at
    /// `--rank` [default: the run's].
    #[arg(long = "factor", value_parser = parse_factoring)]
    factors: Vec<Option<Factoring>>,
    /// Values kept per chunk of the codec [default: the run's].
    #[arg(long)]
    codec_top_k: Option<usize>,
    /// Error feedback's decay [default: the run's].
    #[arg(long)]
    beta: Option<f32>,
    /// The miners' peak inner rate; the one machine keeps the run's [default: the run's].
    #[arg(long)]
    miner_lr: Option<f64>,
    /// Outer step [default: the run's].
    #[arg(long)]
    outer_lr: Option<f32>,
    /// Window 0's outer step, `none` for `--outer-lr`'s [default: the run's].
    #[arg(long)]
    first_outer_lr: Option<String>,
    /// Windows over which the miners' inner rate anneals, 0 for a constant rate [default: the
    /// benchmark's windows].
    #[arg(long)]
    lr_decay_windows: Option<u64>,
    #[arg(long)]
    outer_momentum: Option<f32>,
    /// Scores below this fraction of the window's best earn nothing and are not aggregated
    /// [default: the run's].
    #[arg(long)]
    min_relative_score: Option<f64>,
    /// Evaluation pages per window [default: the run's].
    #[arg(long)]
    eval_pages: Option<usize>,
    /// Split the evaluation pages come from: validation or training [default: the run's].
    #[arg(long)]
    eval_split: Option<String>,
    /// Own pages each miner is judged on [default: the run's].
    #[arg(long)]
    own_pages: Option<usize>,
    /// Own pages are drawn from the first this many assigned pages, 0 for all of them
    /// [default: the run's].
    #[arg(long)]
    own_pages_among: Option<usize>,
    /// Rank test: own x evaluation page pairs an own page may lose [default: the run's].
    #[arg(long)]
    own_page_inversions: Option<usize>,
    /// The rank test's allowance for a miner whose previous delta passed it [default: the
    /// run's].
    #[arg(long)]
    own_page_inversions_vouched: Option<usize>,
    /// Other deltas whose gains on the same pages the rank test pairs each gain with, 0 to
    /// compare raw gains [default: the run's].
    #[arg(long)]
    own_page_controls: Option<usize>,
    /// Weight deltas are measured at [default: the run's].
    #[arg(long)]
    delta_weight: Option<f64>,
    /// Which submissions may be aggregated: positive (scored) or accepted (passed the checks)
    /// [default: the run's].
    #[arg(long)]
    include: Option<String>,
    /// How many submissions are aggregated [default: the run's].
    #[arg(long)]
    top_k: Option<usize>,
    /// Average the chosen deltas per coordinate over those that sent it (`support`) or over
    /// all (`mean`) [default: the run's].
    #[arg(long)]
    average: Option<String>,
    /// The run's seed, which assigns the pages and draws the evaluation pages [default: the
    /// devnet's].
    #[arg(long, env = "GRADIENT_SEED")]
    seed: Option<u64>,
    /// Miners keep their inner optimizer's state across windows, as the miner does
    /// [default: true].
    #[arg(long)]
    keep_optimizer: Option<bool>,
    /// Window w trains from master w-1, as the protocol pipelines it [default: the run's].
    #[arg(long)]
    stale: Option<bool>,
    /// With staleness, miners start from the base master plus their own previous delta, as
    /// the miner does [default: true].
    #[arg(long)]
    eager: Option<bool>,
    /// The eager start adds the delta as sent instead of as trained.
    #[arg(long)]
    eager_sent: bool,
    /// With staleness, miners move onto the master their deltas are applied to after this many
    /// inner steps, as a miner does once it is published.
    #[arg(long)]
    rebase_after: Option<u64>,
    /// Also show the loss with the mean delta's matrices cut to this rank.
    #[arg(long)]
    probe_rank: Option<usize>,
    /// Validation pages both models are evaluated on.
    #[arg(long, default_value_t = 16)]
    report_pages: usize,
    #[arg(long, default_value = "cpu", env = "GRADIENT_DEVICE")]
    device: String,
    /// Skip the one-machine run (for ablation rows against a baseline measured once).
    #[arg(long)]
    no_baseline: bool,
    /// Print the whole report as JSON at the end.
    #[arg(long)]
    json: bool,
}

pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Quality(args) => quality_bench(args),
    }
}

fn quality_bench(args: QualityArgs) -> Result<()> {
    let mut run = RunConfig::devnet(0);
    if let Some(seed) = args.seed {
        run.seed = seed;
    }
    run.miner.inner_steps = args.steps_per_window;
    if let Some(pages) = args.pages_per_window {
        run.miner.pages_per_window = pages;
    }
    if args.dense {
        run.codec.values = Values::Dense;
        run.codec.rank = 0;
    }
    if let Some(dct) = args.dct {
        run.codec.dct = dct;
    }
    if let Some(values) = &args.values {
        run.codec.values = serde_json::from_value(serde_json::Value::String(values.clone()))
            .map_err(|_| anyhow::anyhow!("--values {values}: use q2, q4, q8, f16, bf16 or f32"))?;
    }
    if let Some(rank) = args.rank {
        run.codec.rank = rank;
    }
    if let Some(rows) = args.rows_per_mille {
        run.codec.rows_per_mille = rows;
    }
    if !args.factors.is_empty() {
        run.codec.factors = args.factors.iter().flatten().cloned().collect();
    }
    if run.codec.rank == 0 {
        // Top-k or dense values: no matrix is factored.
        run.codec.factors.clear();
    }
    if let Some(k) = args.codec_top_k {
        run.codec.top_k = k;
    }
    if let Some(average) = &args.average {
        run.aggregation.average =
            serde_json::from_value(serde_json::Value::String(average.clone()))
                .map_err(|_| anyhow::anyhow!("--average {average}: use mean or support"))?;
    }
    if let Some(cut) = args.min_relative_score {
        run.scoring.min_relative_score = cut;
    }
    if let Some(n) = args.eval_pages {
        run.scoring.eval_pages = n;
    }
    if let Some(split) = &args.eval_split {
        run.scoring.eval_split = match split.as_str() {
            "validation" => gradient_protocol::EvalSplit::Validation,
            "training" => gradient_protocol::EvalSplit::Training,
            other => anyhow::bail!("--eval-split {other:?}: validation or training"),
        };
    }
    if let Some(n) = args.own_pages {
        run.scoring.own_pages = n;
    }
    if let Some(n) = args.own_pages_among {
        run.scoring.own_pages_among = n;
    }
    if let Some(n) = args.own_page_inversions {
        run.scoring.own_page_inversions = Some(n);
    }
    if let Some(n) = args.own_page_inversions_vouched {
        run.scoring.own_page_inversions_vouched = Some(n);
    }
    if let Some(n) = args.own_page_controls {
        run.scoring.own_page_controls = n;
    }
    if let Some(weight) = args.delta_weight {
        run.scoring.delta_weight = weight;
    }
    if let Some(include) = &args.include {
        run.aggregation.include =
            serde_json::from_value(serde_json::Value::String(include.clone())).map_err(|_| {
                anyhow::anyhow!("--include {include}: use positive, accepted or trained")
            })?;
    }
    if let Some(k) = args.top_k {
        run.aggregation.top_k = k;
    }
    if let Some(lr) = args.outer_lr {
        run.aggregation.outer_lr = lr;
    }
    if let Some(first) = &args.first_outer_lr {
        run.aggregation.first_outer_lr = match first.as_str() {
            "none" => None,
            lr => Some(lr.parse().map_err(|_| {
                anyhow::anyhow!("--first-outer-lr {lr}: give a positive rate, or none")
            })?),
        };
    }
    if let Some(mu) = args.outer_momentum {
        run.aggregation.outer_momentum = mu;
    }
    run.miner.lr_decay_windows = args.lr_decay_windows.unwrap_or(args.windows);
    let single_lr = args.miner_lr.map(|_| run.miner.lr);
    if let Some(lr) = args.miner_lr {
        run.miner.lr = lr;
    }
    let setup = QualitySetup {
        miners: args.miners,
        windows: args.windows,
        steps_per_window: args.steps_per_window,
        stale: args.stale.unwrap_or(true),
        eager: args.eager.unwrap_or(true) || args.eager_sent,
        eager_sent: args.eager_sent,
        rebase_after: args.rebase_after,
        keep_optimizer: args.keep_optimizer.unwrap_or(true),
        feedback_beta: args.beta.unwrap_or(gradient_node::miner::FEEDBACK_BETA),
        probe_rank: args.probe_rank,
        stages: true,
        report_pages: args.report_pages,
        baseline: !args.no_baseline,
        single_lr,
    };
    let ctx = RunContext::new(run, parse_device(&args.device)?)?;
    eprintln!(
        "quality: {} miners x {} windows x {} steps (batch {}, {} pages a window), {:?}",
        setup.miners,
        setup.windows,
        setup.steps_per_window,
        ctx.run.miner.batch_size,
        ctx.run.miner.pages_per_window,
        setup
    );
    eprintln!(
        "window   master  +dense  (embed  blocks low-rank)   +sent (emb only)    next  inner  scored aggregated rejected"
    );
    let show = |w: &WindowQuality| {
        eprintln!(
            "{:>6} {:>8.3} {:>7.3} {:>7.3} {:>7.3} {:>8.3} {:>7.3} {:>10.3} {:>7.3} {:>6.3} {:>6} {:>10} {:?}",
            w.window,
            w.latest,
            w.plus_dense,
            w.plus_dense_embedding,
            w.plus_dense_blocks,
            w.plus_low_rank,
            w.plus_sent,
            w.plus_sent_embedding,
            w.next,
            w.inner_loss,
            w.scored,
            w.aggregated,
            w.rejected
        );
        let gains: Vec<String> = w
            .measurements
            .iter()
            .map(|m| {
                format!(
                    "{:.4}/{:.4} ({} inversions)",
                    m.own_gain(),
                    m.eval_gain(),
                    gradient_protocol::scoring::inversions(m)
                )
            })
            .collect();
        eprintln!(
            "        own/eval gains: {}  max cosine {:.3} (with the previous window {:.3})  norms {:?}",
            gains.join("  "),
            w.max_cosine,
            w.max_cosine_previous,
            w.norms
                .iter()
                .map(|n| format!("{n:.3}"))
                .collect::<Vec<_>>()
        )
    };
    let report = quality::run(&ctx, &setup, &show)?;
    println!(
        "network {:.4}  one machine {:.4}  ratio {:.4}  (genesis {:.4}; tokens {} vs {}; {:.0} bytes per submission, dense f32 {} = {:.0}x)",
        report.network_loss,
        report.single_loss,
        report.ratio,
        report.genesis_loss,
        report.network_tokens,
        report.single_tokens,
        report.bytes_per_submission,
        report.dense_bytes,
        report.dense_bytes as f64 / report.bytes_per_submission
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

/// `NAME=RANK`, `NAME=RANK:ROWS_PER_MILLE`, `NAME=RANK:ROWS_PER_MILLE:ROW_BITS`, or `none`.
fn parse_factoring(arg: &str) -> Result<Option<Factoring>, String> {
    if arg == "none" {
        return Ok(None);
    }
    let usage = || {
        format!(
            "--factor {arg}: use NAME=RANK, NAME=RANK:ROWS_PER_MILLE, \
             NAME=RANK:ROWS_PER_MILLE:ROW_BITS or none"
        )
    };
    let (tensor, numbers) = arg.split_once('=').ok_or_else(usage)?;
    let mut parts = numbers.split(':');
    let mut next = |default: &str| parts.next().unwrap_or(default).parse().map_err(|_| usage());
    let (rank, rows_per_mille, row_bits) = (next("")?, next("0")?, next("8")?);
    if parts.next().is_some() {
        return Err(usage());
    }
    Ok(Some(Factoring {
        tensor: tensor.to_string(),
        rank: rank as usize,
        rows_per_mille: rows_per_mille as usize,
        row_bits,
    }))
}
