//! `gradient train`: local training with a progress bar or JSON lines, periodic evaluation and
//! checkpoints.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use gradient_model::{
    Batch, Model, ModelConfig, Precision, TrainConfig, Trainer, checkpoint, parse_device,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::LogFormat;
use crate::data::DataSource;

#[derive(Args)]
pub struct TrainArgs {
    /// Model preset: tiny, small, 150m or 1b.
    #[arg(long, default_value = "tiny", env = "GRADIENT_PRESET")]
    preset: String,
    /// Optimizer steps to take.
    #[arg(long, default_value_t = 200, env = "GRADIENT_STEPS")]
    steps: u64,
    /// `bible` (the bundled King James Bible, tokenized on first use into the cache), a dataset
    /// directory from `gradient data prepare`, or `synthetic` (a token stream with learnable
    /// structure).
    #[arg(long, default_value = "bible", env = "GRADIENT_DATA")]
    data: String,
    /// Seed for initialisation and data order.
    #[arg(long, default_value_t = 0, env = "GRADIENT_SEED")]
    seed: u64,
    /// Checkpoint directory.
    #[arg(long, default_value = "runs/train", env = "GRADIENT_OUT")]
    out: PathBuf,
    /// Continue from the checkpoint in --out instead of starting fresh.
    #[arg(long, env = "GRADIENT_RESUME")]
    resume: bool,
    /// `cpu`, `cuda:N` (a binary built with `--features cuda`) or `auto` (the first GPU, else
    /// the CPU).
    #[arg(long, default_value = "cpu", env = "GRADIENT_DEVICE")]
    device: String,
    /// The training step's matmuls: `f32`, or `bf16` inputs with f32 weights, optimizer state
    /// and loss (mixed precision, for GPUs; scripts/device-check.sh measures both).
    #[arg(long, default_value = "f32", value_parser = ["f32", "bf16"], env = "GRADIENT_MATMUL")]
    matmul: String,
    /// Sequences per micro-batch.
    #[arg(long, default_value_t = 8, env = "GRADIENT_BATCH_SIZE")]
    batch_size: usize,
    /// Tokens per sequence; defaults to the preset's context length.
    #[arg(long, env = "GRADIENT_SEQ_LEN")]
    seq_len: Option<usize>,
    /// Micro-batches per optimizer step (gradient accumulation).
    #[arg(long, default_value_t = 1, env = "GRADIENT_ACCUM")]
    accum: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 3e-3, env = "GRADIENT_LR")]
    lr: f64,
    /// Warmup steps.
    #[arg(long, default_value_t = 10, env = "GRADIENT_WARMUP")]
    warmup: u64,
    /// Evaluate on held-out batches every N steps (0: only at the end).
    #[arg(long, default_value_t = 50, env = "GRADIENT_EVAL_EVERY")]
    eval_every: u64,
    /// Save a checkpoint every N steps (0: only at the end).
    #[arg(long, default_value_t = 100, env = "GRADIENT_SAVE_EVERY")]
    save_every: u64,
}

const EVAL_BATCHES: usize = 4;

pub fn run(args: TrainArgs, format: LogFormat) -> anyhow::Result<()> {
    let device = parse_device(&args.device)?;
    let preset = ModelConfig::preset(&args.preset)?;
    let matmul = Precision::parse(&args.matmul)?;
    // `--steps` more steps: the schedule spans what a resumed checkpoint already did too.
    let train_config = |steps_done: u64| TrainConfig {
        lr: args.lr,
        matmul,
        warmup_steps: args.warmup,
        total_steps: steps_done + args.steps,
        ..TrainConfig::default()
    };
    let mut trainer = if args.resume {
        let ckpt = checkpoint::load(&args.out, &device)
            .with_context(|| format!("resuming from {}", args.out.display()))?;
        if ckpt.model.config() != &preset {
            bail!(
                "the checkpoint in {} is not a `{}` model",
                args.out.display(),
                args.preset
            );
        }
        let config = train_config(ckpt.manifest.step);
        ckpt.into_trainer(config)?
    } else {
        if args.out.join(checkpoint::MANIFEST).exists() {
            tracing::warn!(
                "replacing the checkpoint in {} (pass --resume to continue it instead)",
                args.out.display()
            );
        }
        Trainer::new(Model::new(preset, args.seed, &device)?, train_config(0))?
    };
    let config = trainer.model().config().clone();
    let seq_len = args.seq_len.unwrap_or(config.context_length);
    if args.batch_size == 0 || args.accum == 0 || seq_len == 0 {
        bail!("--batch-size, --accum and --seq-len must be positive");
    }
    let sequences_done = trainer.steps_done() * (args.batch_size * args.accum) as u64;
    let mut data = DataSource::open(
        &args.data,
        args.seed,
        sequences_done,
        &config,
        args.batch_size,
        seq_len,
        EVAL_BATCHES,
    )?;
    let val_batches = data.validation().to_vec();
    let evaluate = |t: &Trainer| -> anyhow::Result<f64> {
        let sum: f64 = val_batches
            .iter()
            .map(|b| t.model().evaluate(b))
            .collect::<Result<Vec<_>, _>>()?
            .iter()
            .sum();
        Ok(sum / val_batches.len() as f64)
    };

    let report = Report::new(
        format,
        args.steps,
        &args.preset,
        trainer.model().num_params(),
        &gradient_model::describe(&device),
    );
    let first_step = trainer.steps_done();
    let initial_val = evaluate(&trainer)?;
    report.eval(first_step, initial_val);

    let started = Instant::now();
    let mut tokens_total = 0usize;
    let mut last_val = initial_val;
    for _ in 0..args.steps {
        let micro: Vec<Batch> = (0..args.accum)
            .map(|_| data.train_batch())
            .collect::<anyhow::Result<_>>()?;
        let t0 = Instant::now();
        let stats = trainer.step(&micro)?;
        let dt = t0.elapsed().as_secs_f64();
        tokens_total += stats.tokens;
        report.step(
            &stats,
            stats.tokens as f64 / dt,
            started.elapsed().as_secs_f64(),
        );
        let done = stats.step + 1;
        if args.eval_every > 0 && done % args.eval_every == 0 {
            last_val = evaluate(&trainer)?;
            report.eval(done, last_val);
        }
        if args.save_every > 0 && done % args.save_every == 0 {
            checkpoint::save_trainer(&args.out, &trainer)?;
        }
    }
    let done = trainer.steps_done();
    if args.eval_every == 0 || done % args.eval_every != 0 {
        last_val = evaluate(&trainer)?;
        report.eval(done, last_val);
    }
    checkpoint::save_trainer(&args.out, &trainer)
        .with_context(|| format!("saving the checkpoint to {}", args.out.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    report.done(
        done,
        initial_val,
        last_val,
        tokens_total as f64 / elapsed.max(1e-9),
        &args.out,
    );
    Ok(())
}

/// Progress for people (a bar) or for programs (JSON lines on stdout).
struct Report {
    format: LogFormat,
    bar: Option<ProgressBar>,
}

impl Report {
    fn new(format: LogFormat, steps: u64, preset: &str, params: usize, device: &str) -> Self {
        let bar = (format == LogFormat::Text).then(|| {
            let bar = ProgressBar::new(steps);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            say(
                &bar,
                format!(
                    "training `{preset}` ({:.1}M parameters) on {device}",
                    params as f64 / 1e6
                ),
            );
            bar
        });
        if format == LogFormat::Json {
            emit(
                json!({"event": "start", "preset": preset, "params": params, "steps": steps, "device": device}),
            );
        }
        Self { format, bar }
    }

    fn step(&self, s: &gradient_model::StepStats, tokens_per_s: f64, elapsed: f64) {
        match (&self.bar, self.format) {
            (Some(bar), _) => {
                bar.set_message(format!(
                    "loss {:.3}  {:.0} tok/s  lr {:.1e}",
                    s.loss, tokens_per_s, s.lr
                ));
                bar.inc(1);
            }
            (None, _) => emit(json!({
                "event": "step",
                "step": s.step + 1,
                "loss": s.loss,
                "grad_norm": s.grad_norm,
                "lr": s.lr,
                "tokens": s.tokens,
                "tokens_per_s": tokens_per_s,
                "elapsed_s": elapsed,
            })),
        }
    }

    fn eval(&self, step: u64, val_loss: f64) {
        match &self.bar {
            Some(bar) => say(
                bar,
                format!("step {step:>6}  validation loss {val_loss:.4}"),
            ),
            None => emit(json!({"event": "eval", "step": step, "val_loss": val_loss})),
        }
    }

    fn done(&self, steps: u64, first_val: f64, last_val: f64, tokens_per_s: f64, out: &Path) {
        match &self.bar {
            Some(bar) => {
                bar.finish_and_clear();
                println!(
                    "done: {steps} steps, validation loss {first_val:.4} -> {last_val:.4}, {tokens_per_s:.0} tokens/s; checkpoint in {}",
                    out.display()
                );
            }
            None => emit(json!({
                "event": "done",
                "steps": steps,
                "val_loss_start": first_val,
                "val_loss": last_val,
                "tokens_per_s": tokens_per_s,
                "checkpoint": out,
            })),
        }
    }
}

/// A line above the bar; the bar hides itself when stdout is not a terminal, and its `println`
/// with it, so then the line goes to stdout directly.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}

fn emit(value: serde_json::Value) {
    println!("{value}");
}
