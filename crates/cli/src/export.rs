use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Hugging Face `transformers` format: config.json (LlamaForCausalLM) and model.safetensors.
    Hf(HfArgs),
}

#[derive(Args)]
pub struct HfArgs {
    /// Checkpoint directory written by `gradient train`.
    #[arg(long, env = "GRADIENT_CHECKPOINT")]
    checkpoint: PathBuf,
    /// Directory to write; created if needed.
    #[arg(long, env = "GRADIENT_EXPORT_OUT")]
    out: PathBuf,
    /// Also write our logits for a fixed input (`reference_tokens.json`, `reference_logits.f32`)
    /// so `interop/check_hf.py` can compare them with what `transformers` computes.
    #[arg(long, env = "GRADIENT_REFERENCE_LOGITS")]
    reference_logits: bool,
}

/// Rows and length of the reference input.
const REFERENCE_BATCH: usize = 2;
const REFERENCE_SEQ: usize = 32;

pub fn run(cmd: ExportCommand) -> anyhow::Result<()> {
    match cmd {
        ExportCommand::Hf(args) => {
            gradient_model::hf::export(&args.checkpoint, &args.out).with_context(|| {
                format!(
                    "exporting {} to Hugging Face format",
                    args.checkpoint.display()
                )
            })?;
            if args.reference_logits {
                write_reference(&args)?;
            }
            println!("wrote {}", args.out.display());
            Ok(())
        }
    }
}

fn write_reference(args: &HfArgs) -> anyhow::Result<()> {
    let device = gradient_model::parse_device("cpu")?;
    let ckpt = gradient_model::checkpoint::load(&args.checkpoint, &device)?;
    let config = ckpt.model.config();
    let seq = REFERENCE_SEQ.min(config.context_length);
    let mut stream = gradient_model::synthetic::SyntheticStream::new(0, 0, config.vocab_size);
    let tokens: Vec<u32> = (0..REFERENCE_BATCH * seq)
        .map(|_| stream.next_token())
        .collect();
    let logits = ckpt.model.logits(&tokens, REFERENCE_BATCH)?;
    let meta = serde_json::json!({"batch": REFERENCE_BATCH, "seq": seq, "tokens": tokens});
    std::fs::write(
        args.out.join("reference_tokens.json"),
        serde_json::to_vec(&meta)?,
    )?;
    let bytes: Vec<u8> = logits.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(args.out.join("reference_logits.f32"), bytes)?;
    Ok(())
}
