//! Wallets interoperate with the PyPI package `bittensor-wallet` (4.x, installed into a virtual
//! environment by `interop/setup-python.sh`): each side reads the other's files, verifies the
//! other's signatures, and `gradient wallet show` prints the same addresses.

use std::path::{Path, PathBuf};
use std::process::Command;

use gradient_chain::{AccountId, Keypair, Signature, Wallet};

const PASSWORD: &str = "interop-Pa55word";
const MESSAGE: &[u8] = b"gradient window 42: submission digest";

fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(root.join("interop/setup-python.sh"))
        .output()
        .expect("run interop/setup-python.sh");
    assert!(
        out.status.success(),
        "could not install bittensor-wallet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/wallet_interop.py")
}

fn run_json(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {stdout}: {e}"))
}

fn gradient() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradient"));
    cmd.env_remove("GRADIENT_COLDKEY_PASSWORD");
    cmd
}

fn signature(hex: &serde_json::Value) -> Signature {
    Signature::from_hex(hex.as_str().unwrap()).unwrap()
}

#[test]
fn python_and_rust_read_each_others_wallets_and_signatures() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wallets");
    let path_str = path.to_str().unwrap();
    let message_hex = hex::encode(MESSAGE);

    // Python writes a wallet with an encrypted coldkey; Rust reads and verifies it.
    let py = run_json(Command::new(&python).arg(script()).args([
        "create",
        path_str,
        "py",
        "hot",
        PASSWORD,
        &message_hex,
    ]));
    let wallet = Wallet::new(&path, "py", "hot").unwrap();
    let hotkey = wallet.hotkey().unwrap();
    let coldkey = wallet.coldkey(Some(PASSWORD)).unwrap();
    assert_eq!(hotkey.account().to_ss58(), py["hotkey"].as_str().unwrap());
    assert_eq!(coldkey.account().to_ss58(), py["coldkey"].as_str().unwrap());
    hotkey
        .account()
        .verify(MESSAGE, &signature(&py["hotkey_signature"]))
        .expect("Python's hotkey signature verifies in Rust");
    coldkey
        .account()
        .verify(MESSAGE, &signature(&py["coldkey_signature"]))
        .expect("Python's coldkey signature verifies in Rust");
    assert!(
        hotkey
            .account()
            .verify(b"another message", &signature(&py["hotkey_signature"]))
            .is_err()
    );
    assert!(matches!(
        wallet.coldkey(Some("wrong password")),
        Err(gradient_chain::WalletError::WrongPassword { .. })
    ));

    // Rust signs with the same keys; Python verifies.
    let check = run_json(Command::new(&python).arg(script()).args([
        "check",
        path_str,
        "py",
        "hot",
        PASSWORD,
        &message_hex,
        hotkey.sign(MESSAGE).to_hex().trim_start_matches("0x"),
        coldkey.sign(MESSAGE).to_hex().trim_start_matches("0x"),
    ]));
    assert_eq!(check["hotkey_verified"], true);
    assert_eq!(check["coldkey_verified"], true);

    // `gradient wallet show` prints the addresses Python computed, and unlocks the coldkey with
    // the password in btcli's own environment variable.
    let env_var = py["env_var"].as_str().unwrap();
    assert_eq!(env_var, wallet.password_env_var());
    let show = run_json(
        gradient()
            .args([
                "wallet",
                "show",
                "--json",
                "--unlock",
                "--wallet.name",
                "py",
            ])
            .args(["--wallet.hotkey", "hot", "--wallet.path", path_str])
            .env(env_var, py["env_value"].as_str().unwrap()),
    );
    assert_eq!(show["hotkey"], py["hotkey"]);
    assert_eq!(show["coldkey"], py["coldkey"]);
    let wrong = gradient()
        .args(["wallet", "show", "--unlock", "--wallet.name", "py"])
        .args(["--wallet.hotkey", "hot", "--wallet.path", path_str])
        .env("GRADIENT_COLDKEY_PASSWORD", "not it")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("wrong password") && stderr.contains("coldkey"),
        "{stderr}"
    );

    // `gradient wallet create` writes a wallet that Python reads, password and all.
    let created = gradient()
        .args([
            "wallet",
            "create",
            "--wallet.name",
            "rs",
            "--wallet.hotkey",
            "hk",
        ])
        .args(["--wallet.path", path_str])
        .env("GRADIENT_COLDKEY_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let ours = Wallet::new(&path, "rs", "hk").unwrap();
    let our_cold = ours.coldkey(Some(PASSWORD)).unwrap();
    let our_hot: Keypair = ours.hotkey().unwrap();
    let check = run_json(Command::new(&python).arg(script()).args([
        "check",
        path_str,
        "rs",
        "hk",
        PASSWORD,
        &message_hex,
        our_hot.sign(MESSAGE).to_hex().trim_start_matches("0x"),
        our_cold.sign(MESSAGE).to_hex().trim_start_matches("0x"),
    ]));
    assert_eq!(
        check["hotkey"].as_str().unwrap(),
        our_hot.account().to_ss58()
    );
    assert_eq!(
        check["coldkey"].as_str().unwrap(),
        our_cold.account().to_ss58()
    );
    assert_eq!(
        check["coldkeypub"].as_str().unwrap(),
        our_cold.account().to_ss58()
    );
    assert_eq!(check["hotkey_verified"], true);
    assert_eq!(check["coldkey_verified"], true);
    let parsed: AccountId = check["hotkey"].as_str().unwrap().parse().unwrap();
    assert_eq!(parsed, our_hot.account());
}
