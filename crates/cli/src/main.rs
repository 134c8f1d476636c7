//! `gradient`: the command-line entry point. Every flag can also be set from the environment
//! (`GRADIENT_*`, shown in `--help`), and a `.env` file in the working directory is read first.

mod bench;
mod chain;
mod data;
mod devnet;
mod devnet_chain;
mod export;
mod node;
mod plot;
mod subnet;
mod train;
mod wallet;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "gradient",
    version,
    about = "Incentivised, permissionless distributed training of language models"
)]
struct Cli {
    /// How progress is reported: a progress bar for people, or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "GRADIENT_LOG_FORMAT")]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model locally and save a checkpoint.
    Train(train::TrainArgs),
    /// Prepare training data.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Export a checkpoint to another format.
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// Create and inspect Bittensor wallets (btcli's file layout).
    #[command(subcommand)]
    Wallet(wallet::WalletCommand),
    /// Run and inspect the embedded chain.
    #[command(subcommand)]
    Chain(chain::ChainCommand),
    /// The subnet owner: publish a run.
    #[command(subcommand)]
    Owner(node::OwnerCommand),
    /// Mine: train the master on assigned pages and publish deltas, window after window.
    Miner(node::NodeArgs),
    /// Validate: judge every submission, set weights, publish the next master.
    Validator(node::NodeArgs),
    /// A subnet on a real subtensor chain: register a hotkey, list the neurons.
    #[command(subcommand)]
    Subnet(subnet::SubnetCommand),
    /// Run a whole network on this machine: chain, owner, validator and miners.
    Devnet(devnet::DevnetArgs),
    /// Benchmarks of the network's training quality.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> std::process::ExitCode {
    // A missing .env is normal; a malformed one is worth a warning.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("warning: ignoring .env: {e}");
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Train(args) => train::run(args, cli.log_format),
        Command::Data(cmd) => data::run(cmd),
        Command::Export(cmd) => export::run(cmd),
        Command::Wallet(cmd) => wallet::run(cmd),
        Command::Subnet(cmd) => subnet::run(cmd),
        Command::Chain(cmd) => chain::run(cmd),
        Command::Owner(cmd) => node::owner(cmd),
        Command::Miner(args) => node::miner(args, cli.log_format),
        Command::Validator(args) => node::validator(args, cli.log_format),
        Command::Devnet(args) => devnet::run(args),
        Command::Bench(cmd) => bench::run(cmd),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
