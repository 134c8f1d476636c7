//! `gradient devnet --chain subtensor`: the whole devnet on a real subtensor runtime
//! (chopsticks with the spec-218 chain spec from `GRADIENT_SUBTENSOR_SHARED`, a block every
//! second stamped with the wall clock, as the embedded devnet's blocks). The devnet creates a subnet as //Alice, registers its
//! nodes with their coldkey's burn, stakes the validator, and the nodes run on the chain's
//! metagraph, commitments, block hashes and timestamps.

#[path = "../../subtensor/tests/support/mod.rs"]
mod support;

use std::process::Command;

#[test]
fn a_devnet_on_subtensor_trains_the_master_and_sets_weights_on_chain() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(net) = runtime.block_on(support::chain_with_blocks(1)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gradient"))
        .args([
            "devnet",
            "--chain",
            "subtensor",
            "--subtensor.chain_endpoint",
        ])
        .arg(&net.url)
        .args([
            "--windows",
            "3",
            "--miners",
            "2",
            "--blocks-per-window",
            "24",
            "--dir",
        ])
        .arg(dir.path().join("devnet"))
        .env("GRADIENT_CACHE", dir.path().join("cache"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("devnet").join("report.json")).unwrap(),
    )
    .unwrap();
    let losses: Vec<f64> = report["master_loss"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // Where a miner stopped early, its log says why.
    let log =
        std::fs::read_to_string(dir.path().join("devnet").join("miner-1.log")).unwrap_or_default();
    let tail: String = log.lines().rev().take(12).collect::<Vec<_>>().join("\n");
    let stdout = format!("{stdout}\nminer-1.log, last lines first:\n{tail}");
    assert_eq!(losses.len(), 3, "{stdout}");
    // The genesis master's loss is about 10.87 (the tiny model on the bundled corpus).
    assert!(losses[2] < 9.0, "{losses:?}\n{stdout}");
    // The own-page check refuses an honest miner now and then (docs/protocol.md), so a window
    // may keep its master; over the run the master trains, and most work is taken.
    assert!(
        losses.windows(2).all(|w| w[1] <= w[0]) && losses[2] < losses[0],
        "master loss did not fall: {losses:?}\n{stdout}"
    );
    let taken = report["windows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["miners"].as_array().unwrap().clone())
        .filter(|m| m["aggregated"] == true)
        .count();
    assert!(taken >= 4, "{taken} of 6 submissions aggregated\n{stdout}");

    // On the chain: the subnet the devnet named, the validator's weights on both miners.
    let netuid: u16 = stdout
        .split("chain subnet ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no subnet named in {stdout}"));
    let uid_of = |name: &str| -> u16 {
        let neurons = report["neurons"].as_array().unwrap();
        let neuron = neurons.iter().find(|n| n["name"] == name).unwrap();
        neuron["uid"].as_u64().unwrap() as u16
    };
    let chain = &net.chain;
    let weights = runtime
        .block_on(chain.weights(netuid, uid_of("validator")))
        .unwrap();
    let mut weighted: Vec<u16> = weights.iter().map(|w| w.uid).collect();
    weighted.sort();
    assert_eq!(
        weighted,
        vec![uid_of("miner-1"), uid_of("miner-2")],
        "{weights:?}"
    );

    // Incentive: spec 218 runs `epoch_mock` instead of Yuma (README, Subtensor), which pays by
    // stake alone and writes zero incentive whatever the weights; a runtime with Yuma (spec
    // 233 and later) pays the weighted miners.
    let spec = runtime.block_on(chain.spec_version()).unwrap();
    let incentive: f64 = ["miner-1", "miner-2"]
        .iter()
        .map(|name| {
            let neurons = report["neurons"].as_array().unwrap();
            let neuron = neurons.iter().find(|n| n["name"] == *name).unwrap();
            neuron["incentive"].as_f64().unwrap()
        })
        .sum();
    if spec < 233 {
        assert_eq!(incentive, 0.0, "spec {spec} runs no Yuma");
    } else {
        assert!(incentive > 0.5, "honest miners' incentive {incentive}");
    }
}
