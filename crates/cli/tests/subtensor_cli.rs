//! `gradient owner subnet create`, `gradient subnet register` and `gradient subnet neurons`
//! against a real subtensor runtime (chopsticks with the spec-218 chain spec from
//! `GRADIENT_SUBTENSOR_SHARED`, started by `scripts/chopsticks.sh`), with wallets made by
//! `gradient wallet create`: the hotkey the chain lists is the one `gradient wallet show`
//! prints, and bad input is a clear error with nothing paid.

// The same private chain the subtensor crate's tests start (one copy of how).
#[path = "../../subtensor/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gradient_chain::{AccountId, Keypair};
use subxt::dynamic::Value;
use subxt::ext::scale_value::Composite;

const TAO: u128 = 1_000_000_000;

fn gradient(args: &[&str], wallets: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradient"))
        .args(args)
        .env("GRADIENT_WALLET_PATH", wallets)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn refused(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn ss58(wallets: &Path, name: &str, key: &str) -> String {
    let shown = ok(&gradient(
        &["wallet", "show", "--json", "--wallet.name", name],
        wallets,
    ));
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    v[key].as_str().unwrap().to_string()
}

#[test]
fn a_btcli_style_wallet_creates_a_subnet_and_registers_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(node) = runtime.block_on(support::chain()) else {
        return;
    };
    let wallets = dir.path().join("wallets");
    for name in ["owner", "miner", "poor"] {
        ok(&gradient(
            &["wallet", "create", "--no-password", "--wallet.name", name],
            &wallets,
        ));
    }
    runtime.block_on(async {
        let chain = &node.chain;
        let alice = Keypair::from_uri("//Alice").unwrap();
        // The spec's network rate limit would refuse a new subnet for days of blocks.
        let args = Composite::named([("rate_limit".to_string(), Value::u128(0))]);
        chain
            .sudo(&alice, "AdminUtils", "sudo_set_network_rate_limit", args)
            .await
            .unwrap();
        for name in ["owner", "miner"] {
            let coldkey = AccountId::from_ss58(&ss58(&wallets, name, "coldkey")).unwrap();
            chain.transfer(&alice, &coldkey, 5_000 * TAO).await.unwrap();
        }
    });
    let url = node.url.as_str();
    let on_chain = ["--subtensor.chain_endpoint", url];
    let with = |extra: &[&str]| -> Vec<String> {
        extra
            .iter()
            .chain(on_chain.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        gradient(&refs, &wallets)
    };

    // Without --yes and no terminal to ask on, nothing is paid.
    let text = refused(&run(with(&[
        "owner",
        "subnet",
        "create",
        "--wallet.name",
        "owner",
    ])));
    assert!(
        text.contains("nothing paid") && text.contains("--yes"),
        "{text}"
    );
    let created = ok(&run(with(&[
        "owner",
        "subnet",
        "create",
        "--wallet.name",
        "owner",
        "--yes",
    ])));
    assert!(
        created.contains("locks") && created.contains(" TAO"),
        "{created}"
    );
    let netuid: String = created
        .lines()
        .find_map(|l| l.strip_prefix("created subnet "))
        .unwrap_or_else(|| panic!("{created}"))
        .trim()
        .to_string();

    let registered = ok(&run(with(&[
        "subnet",
        "register",
        "--netuid",
        &netuid,
        "--wallet.name",
        "miner",
        "--yes",
    ])));
    assert!(registered.contains("burns"), "{registered}");
    assert!(registered.contains("registered: uid"), "{registered}");
    let again = ok(&run(with(&[
        "subnet",
        "register",
        "--netuid",
        &netuid,
        "--wallet.name",
        "miner",
        "--yes",
    ])));
    assert!(again.contains("already uid"), "{again}");

    // The chain lists the hotkey `gradient wallet show` prints, as btcli would show it.
    let listed = ok(&run(with(&[
        "subnet", "neurons", "--netuid", &netuid, "--json",
    ])));
    let neurons: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let hotkeys: Vec<&str> = neurons
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["hotkey"].as_str().unwrap())
        .collect();
    assert!(
        hotkeys.contains(&ss58(&wallets, "miner", "hotkey").as_str()),
        "{hotkeys:?}"
    );
    assert!(hotkeys.contains(&ss58(&wallets, "owner", "hotkey").as_str()));

    // The owner's hyperparameters: set with the owner's coldkey and shown as the chain has
    // them; another coldkey, or a setting only root may change, is refused in words and
    // changes nothing.
    let owner_sets = |extra: &[&str], wallet: &str| {
        let mut args = vec!["owner", "subnet", "hyperparams", "--netuid", &netuid];
        args.extend(["--wallet.name", wallet]);
        args.extend(extra);
        run(with(&args))
    };
    let shown = ok(&owner_sets(
        &["--weights-rate-limit", "7", "--commit-reveal", "on"],
        "owner",
    ));
    assert!(
        shown.contains("weights rate limit 7,") && shown.contains("commit-reveal on"),
        "{shown}"
    );
    let text = refused(&owner_sets(&["--weights-rate-limit", "9"], "miner"));
    assert!(
        text.contains("refused by the chain: Bad origin: only the subnet's owner"),
        "{text}"
    );
    let text = refused(&owner_sets(&["--tempo", "5"], "owner"));
    assert!(text.contains("root"), "{text}");
    let shown = ok(&owner_sets(&[], "owner"));
    assert!(shown.contains("weights rate limit 7,"), "{shown}");

    // Bad input: each a clear error.
    let text = refused(&run(with(&[
        "subnet",
        "register",
        "--netuid",
        "999",
        "--wallet.name",
        "miner",
        "--yes",
    ])));
    assert!(
        text.contains("no subnet 999") && text.contains("--netuid"),
        "{text}"
    );
    let text = refused(&run(with(&[
        "subnet",
        "register",
        "--netuid",
        &netuid,
        "--wallet.name",
        "poor",
        "--yes",
    ])));
    assert!(
        text.contains("not enough balance to register") && text.contains("fund the coldkey"),
        "{text}"
    );
    let started = Instant::now();
    let text = refused(&gradient(
        &[
            "subnet",
            "neurons",
            "--netuid",
            "1",
            "--subtensor.chain_endpoint",
            "ws://127.0.0.1:1",
        ],
        &wallets,
    ));
    assert!(text.contains("ws://127.0.0.1:1"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(60));
    let text = refused(&gradient(&["subnet", "neurons", "--netuid", "1"], &wallets));
    assert!(text.contains("--subtensor.network"), "{text}");
    // A miner pointed at a subnet that does not exist stops before it reads anything else.
    let flags = ["--netuid", "999", "--subtensor.chain_endpoint", url];
    let text = refused(&run(node_flags("miner", &flags, dir.path())));
    assert!(
        text.contains("no subnet 999") && text.contains("--netuid"),
        "{text}"
    );
}

/// `gradient ROLE` with the wallet `miner` and stores under `dir`, plus `extra`.
fn node_flags(role: &str, extra: &[&str], dir: &Path) -> Vec<String> {
    let store = format!("file://{}", dir.join("bucket").display());
    let owner = Keypair::dev("owner").account().to_ss58();
    let mut args: Vec<String> = [role, "--wallet.name", "miner", "--store", &store]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--run".into(), store.clone(), "--run.owner".into(), owner]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn a_node_is_told_which_chain_flags_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let wallets = dir.path().join("wallets");
    ok(&gradient(
        &[
            "wallet",
            "create",
            "--no-password",
            "--wallet.name",
            "miner",
        ],
        &wallets,
    ));
    let node = |extra: &[&str]| {
        let args = node_flags("miner", extra, dir.path());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&gradient(&args, &wallets))
    };
    let text = node(&[]);
    assert!(
        text.contains("no chain given") && text.contains("--subtensor.network"),
        "{text}"
    );
    let text = node(&["--subtensor.network", "local"]);
    assert!(text.contains("--netuid is required"), "{text}");
    let text = node(&["--chain", "chain.sqlite", "--subtensor.network", "local"]);
    assert!(text.contains("not both"), "{text}");
    let started = Instant::now();
    let text = node(&[
        "--subtensor.chain_endpoint",
        "ws://127.0.0.1:1",
        "--netuid",
        "1",
    ]);
    assert!(
        text.contains("cannot reach subtensor at ws://127.0.0.1:1"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}
