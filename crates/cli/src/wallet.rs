//! `gradient wallet`: create, list and show Bittensor wallets in `btcli`'s file layout.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gradient_chain::{Wallet, default_wallet_path, list_wallets};
use zeroize::Zeroizing;

/// The wallet flags `btcli` users type.
#[derive(Args, Clone, Debug)]
pub struct WalletArgs {
    /// The wallet (coldkey) name.
    #[arg(
        long = "wallet.name",
        env = "GRADIENT_WALLET_NAME",
        default_value = "default"
    )]
    pub name: String,
    /// The hotkey name within the wallet.
    #[arg(
        long = "wallet.hotkey",
        env = "GRADIENT_WALLET_HOTKEY",
        default_value = "default"
    )]
    pub hotkey: String,
    /// Where wallets live [default: ~/.bittensor/wallets].
    #[arg(long = "wallet.path", env = "GRADIENT_WALLET_PATH")]
    pub path: Option<PathBuf>,
}

impl WalletArgs {
    pub fn wallet(&self) -> Result<Wallet> {
        let path = self.path.clone().unwrap_or_else(default_wallet_path);
        Ok(Wallet::new(path, &self.name, &self.hotkey)?)
    }
}

#[derive(Subcommand)]
pub enum WalletCommand {
    /// Create a coldkey and a hotkey (or only a hotkey, with --hotkey-only).
    Create {
        #[command(flatten)]
        wallet: WalletArgs,
        /// Store the coldkey unencrypted (devnets and tests only).
        #[arg(long, env = "GRADIENT_NO_PASSWORD")]
        no_password: bool,
        /// Add a hotkey to an existing coldkey.
        #[arg(long)]
        hotkey_only: bool,
        /// Replace existing key files.
        #[arg(long)]
        overwrite: bool,
    },
    /// List every wallet and hotkey under the wallets path.
    List {
        /// Where wallets live [default: ~/.bittensor/wallets].
        #[arg(long = "wallet.path", env = "GRADIENT_WALLET_PATH")]
        path: Option<PathBuf>,
    },
    /// Show a wallet's addresses.
    Show {
        #[command(flatten)]
        wallet: WalletArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Decrypt the coldkey too, to check its password.
        #[arg(long)]
        unlock: bool,
    },
}

pub fn run(command: WalletCommand) -> Result<()> {
    match command {
        WalletCommand::Create {
            wallet,
            no_password,
            hotkey_only,
            overwrite,
        } => create(&wallet.wallet()?, no_password, hotkey_only, overwrite),
        WalletCommand::List { path } => {
            let path = path.unwrap_or_else(default_wallet_path);
            let wallets = list_wallets(&path)?;
            if wallets.is_empty() {
                println!("no wallets under {}", path.display());
            }
            for w in wallets {
                let cold = w
                    .coldkey
                    .map_or("(no coldkeypub.txt)".into(), |a| a.to_ss58());
                println!("{} {cold}", w.name);
                for (name, account) in w.hotkeys {
                    let hot = account.map_or("(unreadable)".into(), |a| a.to_ss58());
                    println!("  {name} {hot}");
                }
            }
            Ok(())
        }
        WalletCommand::Show {
            wallet,
            json,
            unlock,
        } => show(&wallet.wallet()?, json, unlock),
    }
}

fn create(wallet: &Wallet, no_password: bool, hotkey_only: bool, overwrite: bool) -> Result<()> {
    if !hotkey_only {
        let password = if no_password {
            None
        } else {
            Some(password(wallet, true)?)
        };
        let (cold, _) =
            wallet.create_coldkey(password.as_deref().map(|p| p.as_str()), overwrite)?;
        println!(
            "coldkey {} -> {}",
            wallet.coldkey_path().display(),
            cold.account()
        );
    } else {
        wallet
            .coldkey_account()
            .context("--hotkey-only needs an existing coldkey")?;
    }
    let (hot, phrase) = wallet.create_hotkey(overwrite)?;
    println!(
        "hotkey  {} -> {}",
        wallet.hotkey_path().display(),
        hot.account()
    );
    // The phrase is stored in the key file, as btcli does; say so rather than print it.
    drop(phrase);
    println!("the recovery phrases are inside the key files; back them up");
    Ok(())
}

fn show(wallet: &Wallet, json: bool, unlock: bool) -> Result<()> {
    let coldkey = wallet.coldkey_account()?;
    let hotkey = wallet.hotkey_account()?;
    if unlock {
        self::coldkey(wallet)?;
    }
    if json {
        let value = serde_json::json!({
            "name": wallet.name,
            "hotkey_name": wallet.hotkey,
            "path": wallet.path,
            "coldkey": coldkey.to_ss58(),
            "hotkey": hotkey.to_ss58(),
        });
        println!("{value}");
    } else {
        println!("wallet  {} ({})", wallet.name, wallet.path.display());
        println!("coldkey {coldkey}");
        println!("hotkey  {} {hotkey}", wallet.hotkey);
        if unlock {
            println!("coldkey unlocked: password correct");
        }
    }
    Ok(())
}

/// The wallet's coldkey, unlocked (asking for its password where it is encrypted).
pub fn coldkey(wallet: &Wallet) -> Result<gradient_chain::Keypair> {
    let encrypted = std::fs::read(wallet.coldkey_path())
        .with_context(|| format!("reading {}", wallet.coldkey_path().display()))?
        .starts_with(b"$NACL");
    let password = if encrypted {
        Some(password(wallet, false)?)
    } else {
        None
    };
    Ok(wallet.coldkey(password.as_deref().map(|p| p.as_str()))?)
}

/// The coldkey password: `GRADIENT_COLDKEY_PASSWORD`, btcli's environment variable, or a
/// prompt on the terminal.
fn password(wallet: &Wallet, confirm: bool) -> Result<Zeroizing<String>> {
    if let Ok(password) = std::env::var("GRADIENT_COLDKEY_PASSWORD") {
        return Ok(Zeroizing::new(password));
    }
    if let Some(password) = wallet.password_from_env() {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "the coldkey needs a password and there is no terminal to ask on: set \
             GRADIENT_COLDKEY_PASSWORD or {} (as btcli saves it), or pass --no-password",
            wallet.password_env_var()
        );
    }
    let first = Zeroizing::new(rpassword::prompt_password("coldkey password: ")?);
    if confirm {
        let again = Zeroizing::new(rpassword::prompt_password("again: ")?);
        if *first != *again {
            bail!("the passwords differ");
        }
    }
    Ok(first)
}
