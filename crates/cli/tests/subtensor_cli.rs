//! `gradient owner subnet create`, `gradient subnet register` and `gradient subnet neurons`
//! against a real subtensor runtime (chopsticks with the spec-218 chain spec from
//! `GRADIENT_SUBTENSOR_SHARED`, started by `scripts/chopsticks.sh`), with wallets made by
//! `gradient wallet create`: the hotkey the chain lists is the one `gradient wallet show`
//! prints, and bad input is a clear error with nothing paid.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gradient_chain::{AccountId, Keypair};
use gradient_subtensor::{Endpoint, Subtensor, Timeouts};
use subxt::dynamic::Value;
use subxt::ext::scale_value::Composite;

const TAO: u128 = 1_000_000_000;

struct Chain {
    child: Child,
    url: String,
}

impl Drop for Chain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_chain(log: &Path) -> Option<Chain> {
    let Ok(shared) = std::env::var("GRADIENT_SUBTENSOR_SHARED") else {
        eprintln!(
            "skipped: GRADIENT_SUBTENSOR_SHARED (the folder with subtensor's raonet.json, \
             ../shared/subtensor) is not set, so there is no subtensor runtime to test against"
        );
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::fs::File::create(log).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/chopsticks.sh");
    let child = Command::new(script)
        .arg("run")
        .arg(shared)
        .arg(port.to_string())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    Some(Chain {
        child,
        url: format!("ws://127.0.0.1:{port}"),
    })
}

async fn connect(url: &str, log: &Path) -> Subtensor {
    let endpoint = Endpoint::from_flags(None, Some(url)).unwrap().unwrap();
    let started = Instant::now();
    loop {
        match Subtensor::connect(&endpoint, Timeouts::default()).await {
            Ok(chain) => return chain,
            Err(e) if started.elapsed() > Duration::from_secs(180) => panic!(
                "chopsticks did not come up: {e}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            ),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

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
    let log = dir.path().join("chopsticks.log");
    let Some(node) = start_chain(&log) else {
        return;
    };
    let wallets = dir.path().join("wallets");
    for name in ["owner", "miner", "poor"] {
        ok(&gradient(
            &["wallet", "create", "--no-password", "--wallet.name", name],
            &wallets,
        ));
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let chain = connect(&node.url, &log).await;
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
}
