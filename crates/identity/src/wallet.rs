//! Wallets on disk in the layout `btcli` and `bittensor-wallet` use:
//!
//! ```text
//! <path>/<name>/coldkey              encrypted ($NACL) or plain JSON key file
//! <path>/<name>/coldkeypub.txt       public JSON
//! <path>/<name>/hotkeys/<hotkey>     plain JSON key file
//! <path>/<name>/hotkeys/<hotkey>pub.txt
//! ```
//!
//! Every file is written with mode 0600, atomically, so a crash never leaves half a key.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::WalletError;
use crate::keys::{AccountId, Keypair, decode_hex};
use crate::nacl;

/// Where `btcli` keeps wallets unless told otherwise.
pub fn default_wallet_path() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".bittensor")
        .join("wallets")
}

/// One coldkey (by `name`) and one of its hotkeys, under a wallets directory.
#[derive(Debug, Clone)]
pub struct Wallet {
    pub path: PathBuf,
    pub name: String,
    pub hotkey: String,
}

/// The JSON inside a key file, with `bittensor-wallet`'s field names.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_phrase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_seed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    private_key: Option<String>,
    public_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ss58_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crypto_type: Option<u8>,
}

impl KeyFile {
    fn secret(pair: &Keypair, phrase: Option<&str>) -> Self {
        let account = pair.account();
        KeyFile {
            secret_phrase: phrase.map(str::to_string),
            secret_seed: Some(format!("0x{}", hex::encode(pair.seed()))),
            private_key: Some(format!("0x{}", hex::encode(pair.secret_bytes().as_ref()))),
            public_key: Some(account.to_hex()),
            account_id: Some(account.to_hex()),
            ss58_address: Some(account.to_ss58()),
            crypto_type: Some(1),
        }
    }

    fn public(account: AccountId) -> Self {
        KeyFile {
            secret_phrase: None,
            secret_seed: None,
            private_key: None,
            public_key: Some(account.to_hex()),
            account_id: Some(account.to_hex()),
            ss58_address: Some(account.to_ss58()),
            crypto_type: Some(1),
        }
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<Self, WalletError> {
        serde_json::from_slice(bytes).map_err(|e| WalletError::Malformed {
            path: path.to_path_buf(),
            why: format!("not a JSON key file ({e})"),
        })
    }

    fn account(&self, path: &Path) -> Result<AccountId, WalletError> {
        let malformed = |why: String| WalletError::Malformed {
            path: path.to_path_buf(),
            why,
        };
        if let Some(hex) = self.public_key.as_ref().or(self.account_id.as_ref()) {
            return AccountId::from_hex(hex).map_err(|e| malformed(e.to_string()));
        }
        if let Some(address) = &self.ss58_address {
            return AccountId::from_ss58(address).map_err(|e| malformed(e.to_string()));
        }
        Err(malformed("no publicKey, accountId or ss58Address".into()))
    }

    fn keypair(&self, path: &Path) -> Result<Keypair, WalletError> {
        let malformed = |why: String| WalletError::Malformed {
            path: path.to_path_buf(),
            why,
        };
        let pair = if let Some(seed) = &self.secret_seed {
            let bytes = Zeroizing::new(decode_hex(seed).map_err(|e| malformed(e.to_string()))?);
            let seed: [u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| malformed("secretSeed is not 32 bytes".into()))?;
            Keypair::from_seed(&seed)
        } else if let Some(phrase) = &self.secret_phrase {
            Keypair::from_phrase(phrase).map_err(|e| malformed(e.to_string()))?
        } else {
            return Err(malformed(
                "no secretSeed or secretPhrase (is this a public key file?)".into(),
            ));
        };
        if self.public_key.is_some() || self.account_id.is_some() {
            let stated = self.account(path)?;
            if stated != pair.account() {
                return Err(malformed(format!(
                    "publicKey {} does not belong to the secret key (which gives {})",
                    stated,
                    pair.account()
                )));
            }
        }
        Ok(pair)
    }
}

/// A wallet and its hotkeys as `gradient wallet list` shows them.
#[derive(Debug, Clone, Serialize)]
pub struct WalletSummary {
    pub name: String,
    pub coldkey: Option<AccountId>,
    pub hotkeys: Vec<(String, Option<AccountId>)>,
}

impl Wallet {
    pub fn new(
        path: impl Into<PathBuf>,
        name: impl Into<String>,
        hotkey: impl Into<String>,
    ) -> Result<Self, WalletError> {
        let wallet = Wallet {
            path: path.into(),
            name: name.into(),
            hotkey: hotkey.into(),
        };
        check_name(&wallet.name)?;
        check_name(&wallet.hotkey)?;
        Ok(wallet)
    }

    pub fn coldkey_path(&self) -> PathBuf {
        self.path.join(&self.name).join("coldkey")
    }

    pub fn coldkeypub_path(&self) -> PathBuf {
        self.path.join(&self.name).join("coldkeypub.txt")
    }

    pub fn hotkey_path(&self) -> PathBuf {
        self.path
            .join(&self.name)
            .join("hotkeys")
            .join(&self.hotkey)
    }

    pub fn hotkeypub_path(&self) -> PathBuf {
        self.path
            .join(&self.name)
            .join("hotkeys")
            .join(format!("{}pub.txt", self.hotkey))
    }

    /// The hotkey's secret: what a miner or validator signs with.
    pub fn hotkey(&self) -> Result<Keypair, WalletError> {
        let path = self.hotkey_path();
        let bytes = read_key_file(&path)?;
        if bytes.starts_with(nacl::MAGIC) {
            return Err(WalletError::Malformed {
                path,
                why: "encrypted hotkeys are not supported; recreate the hotkey without a password"
                    .into(),
            });
        }
        KeyFile::parse(&path, &bytes)?.keypair(&path)
    }

    /// The hotkey's public key, from `<hotkey>pub.txt` or else the hotkey file itself.
    pub fn hotkey_account(&self) -> Result<AccountId, WalletError> {
        let public = self.hotkeypub_path();
        if public.exists() {
            let bytes = read_key_file(&public)?;
            return KeyFile::parse(&public, &bytes)?.account(&public);
        }
        Ok(self.hotkey()?.account())
    }

    /// The coldkey's public key, which never needs a password.
    pub fn coldkey_account(&self) -> Result<AccountId, WalletError> {
        let path = self.coldkeypub_path();
        let bytes = read_key_file(&path)?;
        KeyFile::parse(&path, &bytes)?.account(&path)
    }

    /// The name of the environment variable `btcli` reads a coldkey password from.
    pub fn password_env_var(&self) -> String {
        let path = self
            .coldkey_path()
            .to_string_lossy()
            .replace(['/', '.'], "_");
        format!("BT_PW_{}", path.to_uppercase())
    }

    /// The password btcli saved in the environment, if any. btcli stores it base64-encoded after
    /// XOR with the variable's own name.
    pub fn password_from_env(&self) -> Option<Zeroizing<String>> {
        use base64::Engine;
        let var = self.password_env_var();
        let value = std::env::var(&var).ok()?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?;
        let plain: Vec<u8> = bytes
            .iter()
            .zip(var.as_bytes().iter().cycle())
            .map(|(b, k)| b ^ k)
            .collect();
        String::from_utf8(plain).ok().map(Zeroizing::new)
    }

    /// The coldkey's secret. An encrypted coldkey needs `password`, or btcli's environment
    /// variable.
    pub fn coldkey(&self, password: Option<&str>) -> Result<Keypair, WalletError> {
        let path = self.coldkey_path();
        let bytes = read_key_file(&path)?;
        let plain = if bytes.starts_with(nacl::MAGIC) {
            let from_env = self.password_from_env();
            let password = match (password, from_env.as_deref()) {
                (Some(given), _) => given,
                (None, Some(env)) => env,
                (None, None) => {
                    return Err(WalletError::NoPassword {
                        path,
                        env: self.password_env_var(),
                    });
                }
            };
            nacl::decrypt(&path, &bytes, password)?
        } else if bytes.starts_with(b"$ANSIBLE_VAULT") {
            return Err(WalletError::LegacyEncryption {
                path,
                format: "ansible-vault",
            });
        } else if bytes.starts_with(b"gAAAAA") {
            return Err(WalletError::LegacyEncryption {
                path,
                format: "fernet",
            });
        } else {
            Zeroizing::new(bytes)
        };
        let pair = KeyFile::parse(&path, &plain)?.keypair(&path)?;
        if let Ok(public) = self.coldkey_account()
            && public != pair.account()
        {
            return Err(WalletError::Malformed {
                path: self.coldkeypub_path(),
                why: format!(
                    "coldkeypub.txt says {public} but the coldkey is {}",
                    pair.account()
                ),
            });
        }
        Ok(pair)
    }

    /// Writes a new coldkey (encrypted when `password` is given) and returns it with its phrase.
    pub fn create_coldkey(
        &self,
        password: Option<&str>,
        overwrite: bool,
    ) -> Result<(Keypair, Zeroizing<String>), WalletError> {
        let (pair, phrase) = Keypair::generate()?;
        self.write_coldkey(&pair, Some(&phrase), password, overwrite)?;
        Ok((pair, phrase))
    }

    pub fn write_coldkey(
        &self,
        pair: &Keypair,
        phrase: Option<&str>,
        password: Option<&str>,
        overwrite: bool,
    ) -> Result<(), WalletError> {
        let secret = Zeroizing::new(json_bytes(&KeyFile::secret(pair, phrase)));
        let body = match password {
            Some(password) => nacl::encrypt(&secret, password)?,
            None => secret.to_vec(),
        };
        self.guard(&self.coldkey_path(), overwrite)?;
        write_private(
            &self.coldkeypub_path(),
            &json_bytes(&KeyFile::public(pair.account())),
        )?;
        write_private(&self.coldkey_path(), &body)
    }

    /// Writes a new plain-text hotkey (as btcli does by default) and returns it with its phrase.
    pub fn create_hotkey(
        &self,
        overwrite: bool,
    ) -> Result<(Keypair, Zeroizing<String>), WalletError> {
        let (pair, phrase) = Keypair::generate()?;
        self.write_hotkey(&pair, Some(&phrase), overwrite)?;
        Ok((pair, phrase))
    }

    pub fn write_hotkey(
        &self,
        pair: &Keypair,
        phrase: Option<&str>,
        overwrite: bool,
    ) -> Result<(), WalletError> {
        self.guard(&self.hotkey_path(), overwrite)?;
        let secret = Zeroizing::new(json_bytes(&KeyFile::secret(pair, phrase)));
        write_private(
            &self.hotkeypub_path(),
            &json_bytes(&KeyFile::public(pair.account())),
        )?;
        write_private(&self.hotkey_path(), &secret)
    }

    fn guard(&self, path: &Path, overwrite: bool) -> Result<(), WalletError> {
        if path.exists() && !overwrite {
            return Err(WalletError::Exists {
                path: path.to_path_buf(),
            });
        }
        Ok(())
    }
}

/// Every wallet under `path`, with the public keys that can be read without a password.
pub fn list_wallets(path: &Path) -> Result<Vec<WalletSummary>, WalletError> {
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(WalletError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut wallets = Vec::new();
    for entry in entries.flatten() {
        if !entry.path().is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let probe = Wallet {
            path: path.to_path_buf(),
            name: name.clone(),
            hotkey: String::new(),
        };
        let mut hotkeys = Vec::new();
        if let Ok(files) = fs::read_dir(path.join(&name).join("hotkeys")) {
            for file in files.flatten() {
                let hotkey = file.file_name().to_string_lossy().into_owned();
                if hotkey.ends_with("pub.txt") || !file.path().is_file() {
                    continue;
                }
                let wallet = Wallet {
                    hotkey: hotkey.clone(),
                    ..probe.clone()
                };
                hotkeys.push((hotkey, wallet.hotkey_account().ok()));
            }
        }
        hotkeys.sort();
        wallets.push(WalletSummary {
            name,
            coldkey: probe.coldkey_account().ok(),
            hotkeys,
        });
    }
    wallets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(wallets)
}

fn check_name(name: &str) -> Result<(), WalletError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(WalletError::Name(name.to_string()))
    }
}

fn json_bytes(file: &KeyFile) -> Vec<u8> {
    serde_json::to_vec(file).expect("a key file always serialises")
}

/// Key files are tiny; anything large is not a key file and is refused before reading it.
const MAX_KEY_FILE: u64 = 64 * 1024;

fn read_key_file(path: &Path) -> Result<Vec<u8>, WalletError> {
    let io = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            WalletError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            WalletError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    };
    let len = fs::metadata(path).map_err(io)?.len();
    if len > MAX_KEY_FILE {
        return Err(WalletError::Malformed {
            path: path.to_path_buf(),
            why: format!("{len} bytes is too large for a key file"),
        });
    }
    fs::read(path).map_err(io)
}

/// Writes through a temporary file in the same directory, created 0600, then renames.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), WalletError> {
    let io = |source| WalletError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_read_back_with_and_without_password() {
        let dir = tempfile::tempdir().unwrap();
        let wallet = Wallet::new(dir.path(), "w", "h").unwrap();
        let (cold, _) = wallet.create_coldkey(Some("correct horse"), false).unwrap();
        let (hot, _) = wallet.create_hotkey(false).unwrap();
        assert_eq!(wallet.coldkey_account().unwrap(), cold.account());
        assert_eq!(wallet.hotkey_account().unwrap(), hot.account());
        assert_eq!(wallet.hotkey().unwrap().account(), hot.account());
        assert_eq!(
            wallet.coldkey(Some("correct horse")).unwrap().account(),
            cold.account()
        );
        assert!(matches!(
            wallet.coldkey(Some("wrong")),
            Err(WalletError::WrongPassword { .. })
        ));
        assert!(matches!(
            wallet.create_hotkey(false),
            Err(WalletError::Exists { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for path in [
                wallet.coldkey_path(),
                wallet.coldkeypub_path(),
                wallet.hotkey_path(),
                wallet.hotkeypub_path(),
            ] {
                let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", path.display());
            }
        }
        let listed = list_wallets(dir.path()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].coldkey, Some(cold.account()));
        assert_eq!(
            listed[0].hotkeys,
            vec![("h".to_string(), Some(hot.account()))]
        );
    }

    #[test]
    fn bad_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let wallet = Wallet::new(dir.path(), "w", "h").unwrap();
        let err = wallet.hotkey().unwrap_err();
        assert!(matches!(err, WalletError::Missing { .. }));
        assert!(err.to_string().contains("hotkeys/h"));

        write_private(&wallet.hotkey_path(), b"{not json").unwrap();
        let err = wallet.hotkey().unwrap_err().to_string();
        assert!(err.contains("malformed key file"), "{err}");

        // A public key that does not match the seed is refused, not silently trusted.
        let mut file = KeyFile::secret(&Keypair::dev("a"), None);
        file.public_key = Some(Keypair::dev("b").account().to_hex());
        file.account_id = None;
        write_private(&wallet.hotkey_path(), &json_bytes(&file)).unwrap();
        let err = wallet.hotkey().unwrap_err().to_string();
        assert!(err.contains("does not belong"), "{err}");

        write_private(&wallet.coldkey_path(), b"gAAAAABfernet").unwrap();
        assert!(matches!(
            wallet.coldkey(None),
            Err(WalletError::LegacyEncryption { .. })
        ));
        assert!(Wallet::new(dir.path(), "../escape", "h").is_err());
    }
}
