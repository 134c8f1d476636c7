//! `gradient wallet` and `gradient chain` as a devnet operator uses them: create wallets, start
//! a chain, serve it, register over HTTP, stake, and read the metagraph back.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn gradient() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradient"));
    cmd.env_remove("GRADIENT_COLDKEY_PASSWORD");
    cmd
}

fn succeed(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Kills the server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn wallets_register_on_a_served_chain() {
    let dir = tempfile::tempdir().unwrap();
    let wallets = dir.path().join("wallets");
    let db = dir.path().join("chain.sqlite");
    for hotkey in ["validator", "miner"] {
        succeed(
            gradient()
                .args(["wallet", "create", "--no-password", "--wallet.name", "op"])
                .args(["--wallet.hotkey", hotkey])
                .arg("--wallet.path")
                .arg(&wallets)
                .args(if hotkey == "miner" {
                    &["--hotkey-only"][..]
                } else {
                    &[]
                }),
        );
    }
    let list = succeed(
        gradient()
            .args(["wallet", "list", "--wallet.path"])
            .arg(&wallets),
    );
    assert!(
        list.contains("op 5") && list.contains("  miner 5") && list.contains("  validator 5"),
        "{list}"
    );

    succeed(
        gradient()
            .args(["chain", "init", "--block-time-ms", "200", "--db"])
            .arg(&db),
    );
    let again = gradient()
        .args(["chain", "init", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let mut child = gradient()
        .args(["chain", "serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let _server = Server(child);
    let url = first_line
        .split_whitespace()
        .last()
        .expect("the server prints its URL")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{first_line}");

    let wallet_flags = |hotkey: &str| {
        vec![
            "--wallet.name".to_string(),
            "op".into(),
            "--wallet.hotkey".into(),
            hotkey.into(),
            "--wallet.path".into(),
            wallets.to_str().unwrap().into(),
        ]
    };
    let out = succeed(
        gradient()
            .args(["chain", "register", "--chain", &url])
            .args(wallet_flags("validator")),
    );
    assert!(out.contains("is uid 0"), "{out}");
    let out = succeed(
        gradient()
            .args(["chain", "register", "--chain", &url])
            .args(wallet_flags("miner")),
    );
    assert!(out.contains("is uid 1"), "{out}");

    let show: serde_json::Value = serde_json::from_str(&succeed(
        gradient()
            .args(["wallet", "show", "--json"])
            .args(wallet_flags("validator")),
    ))
    .unwrap();
    let validator = show["hotkey"].as_str().unwrap().to_string();
    succeed(
        gradient()
            .args([
                "chain", "stake", "--tao", "1000", "--hotkey", &validator, "--db",
            ])
            .arg(&db),
    );
    let bad = gradient()
        .args([
            "chain",
            "stake",
            "--tao",
            "1",
            "--hotkey",
            "5NotAnAddress",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("5NotAnAddress"));

    let graph: serde_json::Value = serde_json::from_str(&succeed(gradient().args([
        "chain",
        "metagraph",
        "--json",
        "--chain",
        &url,
    ])))
    .unwrap();
    let neurons = graph["neurons"].as_array().unwrap();
    assert_eq!(neurons.len(), 2);
    assert_eq!(neurons[0]["hotkey"].as_str().unwrap(), validator);
    assert_eq!(neurons[0]["stake"], 1_000_000_000_000u64);
    let table = succeed(gradient().args(["chain", "metagraph", "--chain"]).arg(&db));
    assert!(
        table.contains(&validator) && table.contains("1000.000"),
        "{table}"
    );
}
