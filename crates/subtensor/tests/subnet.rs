//! The subnet's whole life on a real subtensor runtime (chopsticks, spec 218): an owner creates
//! a subnet, a validator and two miners register and pay for it, the miners commit their
//! buckets and read them back, the validator stakes and sets weights, and two epochs pass
//! (this runtime's stand-in epoch pays by stake alone: see the end of the first test).
//! Refusals come back as the pallet's error in words.

mod support;

use gradient_chain::Keypair;
use gradient_subtensor::{Mechanism, SubtensorError};
use subxt::dynamic::Value;
use subxt::ext::scale_value::Composite;

const TAO: u128 = 1_000_000_000;

fn fresh(label: &str) -> Keypair {
    // New hotkeys every run, so a chain shared between runs never sees one twice.
    let _ = label;
    Keypair::generate().unwrap().0
}

fn args(pairs: &[(&str, u128)]) -> Composite<()> {
    Composite::named(
        pairs
            .iter()
            .map(|(name, v)| (name.to_string(), Value::u128(*v))),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnet_from_creation_through_two_epochs() {
    let Some(net) = support::chain().await else {
        return;
    };
    let chain = &net.chain;
    let head = chain.block(None).await.unwrap();
    assert!(head.timestamp_ms > 1_600_000_000_000, "{head:?}");
    assert_eq!(chain.block(Some(head.number)).await.unwrap(), head);

    let alice = Keypair::from_uri("//Alice").unwrap(); // sudo, funded
    let bob = Keypair::from_uri("//Bob").unwrap(); // the validator's coldkey
    let charlie = Keypair::from_uri("//Charlie").unwrap(); // the miners' coldkey
    // The spec's network rate limit would refuse a second subnet for days of blocks.
    chain
        .sudo(
            &alice,
            "AdminUtils",
            "sudo_set_network_rate_limit",
            args(&[("rate_limit", 0)]),
        )
        .await
        .unwrap();
    let owner_hot = fresh("owner");
    let netuid = chain
        .register_network(&alice, &owner_hot.account(), Mechanism::Dynamic)
        .await
        .unwrap();
    eprintln!(
        "subnet {netuid} at spec {}",
        chain.spec_version().await.unwrap()
    );

    let validator = fresh("validator");
    let miners = [fresh("miner-1"), fresh("miner-2")];
    for hot in std::iter::once(&validator).chain(&miners) {
        chain
            .transfer(&alice, &hot.account(), 10 * TAO)
            .await
            .unwrap();
    }
    let burn = chain.burn(netuid).await.unwrap();
    let before = chain.free_balance(&bob.account()).await.unwrap();
    let v_uid = chain
        .burned_register(&bob, netuid, &validator.account())
        .await
        .unwrap();
    let after = chain.free_balance(&bob.account()).await.unwrap();
    assert!(
        before - after >= burn as u128,
        "paid {} for a burn of {burn}",
        before - after
    );
    let m_uids: Vec<u16> = {
        let mut out = Vec::new();
        for m in &miners {
            out.push(
                chain
                    .burned_register(&charlie, netuid, &m.account())
                    .await
                    .unwrap(),
            );
        }
        out
    };
    eprintln!("validator uid {v_uid}, miners {m_uids:?}, burn {burn}");

    for (i, m) in miners.iter().enumerate() {
        let bucket = format!("s3 bucket of miner {i}").into_bytes();
        chain.set_commitment(m, netuid, &bucket).await.unwrap();
        let read = chain
            .commitment(netuid, &m.account())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.data, bucket);
    }
    assert_eq!(
        chain
            .commitment(netuid, &validator.account())
            .await
            .unwrap(),
        None
    );
    // Over the limit: 129 bytes is refused before anything is signed; a second commitment
    // right away is refused by the chain's rate limit, and the first one stands.
    let e = chain
        .set_commitment(&miners[0], netuid, &[1u8; 129])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at most 128 bytes"), "{e}");
    let e = chain
        .set_commitment(&miners[0], netuid, b"another bucket")
        .await
        .unwrap_err();
    assert!(
        e.pallet_error().is_some_and(|p| p.contains("RateLimit")),
        "{e}"
    );
    assert!(e.to_string().contains("wait for"), "{e}");
    let kept = chain
        .commitment(netuid, &miners[0].account())
        .await
        .unwrap();
    assert_eq!(kept.unwrap().data, b"s3 bucket of miner 0".to_vec());

    // The first try's all-zero incentive, part one: on spec 218 a new subnet's pool holds 1 rao
    // of alpha (`SubnetAlphaIn`; the owner's lock, however large, does not go in), so a stake
    // of 1000 TAO buys 0 alpha and every validator weighs nothing. Emissions fill the pool only
    // over many blocks; the test fills it as they would.
    let empty = chain
        .storage(
            "SubtensorModule",
            "SubnetAlphaIn",
            vec![Value::u128(netuid.into())],
        )
        .await
        .unwrap()
        .map(|v| gradient_subtensor::value::number(&v).unwrap());
    assert_eq!(empty, Some(1), "a new pool's alpha");
    net.set_storage(serde_json::json!({
        "SubtensorModule": {
            "SubnetAlphaIn": [[[netuid], (1000 * TAO).to_string()]],
            "SubnetTAO": [[[netuid], (1000 * TAO).to_string()]],
        }
    }))
    .await;
    chain
        .add_stake(&bob, &validator.account(), netuid, (1000 * TAO) as u64)
        .await
        .unwrap();
    let alpha = chain
        .storage(
            "SubtensorModule",
            "TotalHotkeyAlpha",
            vec![
                Value::from_bytes(validator.account().0),
                Value::u128(netuid.into()),
            ],
        )
        .await
        .unwrap()
        .map(|v| gradient_subtensor::value::number(&v).unwrap())
        .unwrap_or(0);
    // Half the pool's price for the other half: about 500 alpha for 1000 TAO.
    assert!(
        alpha > 400 * TAO && alpha < 600 * TAO,
        "alpha bought: {alpha}"
    );
    for (call, field, value) in [
        ("sudo_set_tempo", "tempo", 10),
        (
            "sudo_set_weights_set_rate_limit",
            "weights_set_rate_limit",
            0,
        ),
    ] {
        chain
            .sudo(
                &alice,
                "AdminUtils",
                call,
                args(&[("netuid", netuid.into()), (field, value)]),
            )
            .await
            .unwrap();
    }
    net.new_blocks(12).await;
    chain
        .set_weights(&validator, netuid, &m_uids, &[3 * 16384, 16384], 0)
        .await
        .unwrap();
    let stored = chain.weights(netuid, v_uid).await.unwrap();
    let as_set: Vec<(u16, u16)> = stored.iter().map(|w| (w.uid, w.weight)).collect();
    assert_eq!(as_set, vec![(m_uids[0], 65535), (m_uids[1], 21845)]);
    // Over the rate limit: refused in words, and the weights stay as they were.
    chain
        .sudo(
            &alice,
            "AdminUtils",
            "sudo_set_weights_set_rate_limit",
            args(&[("netuid", netuid.into()), ("weights_set_rate_limit", 1000)]),
        )
        .await
        .unwrap();
    let e = chain
        .set_weights(&validator, netuid, &m_uids, &[1, 65535], 0)
        .await
        .unwrap_err();
    assert_eq!(
        e.pallet_error(),
        Some("SubtensorModule::SettingWeightsTooFast"),
        "{e}"
    );
    assert!(e.to_string().contains("rate limit"), "{e}");
    assert_eq!(chain.weights(netuid, v_uid).await.unwrap(), stored);
    // Commit-reveal is off on this subnet, and spec 218 has no timelocked commits: refused
    // before anything is signed.
    assert!(!chain.commit_reveal_enabled(netuid).await.unwrap());
    let e = chain
        .commit_timelocked_weights(
            &validator,
            netuid,
            &stored,
            0,
            gradient_subtensor::commit_reveal::os_randomness().unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("no timelocked weight commits"),
        "{e}"
    );
    // Two epochs of tempo 10.
    net.new_blocks(24).await;
    let neurons = chain.neurons(netuid).await.unwrap();
    assert_eq!(neurons.len(), 4, "{neurons:#?}");
    assert!(neurons.iter().all(|n| n.validator_permit), "{neurons:#?}");
    let emission = chain.emission(netuid).await.unwrap();
    assert!(
        emission[v_uid as usize] > 0,
        "the epoch paid nothing: {emission:?}"
    );
    // Part two: spec 218 runs no Yuma. This runtime is subtensor at c39109d32 (2025-01-04, "dtao
    // emission"), whose coinbase drains every subnet through `epoch_mock` every block (the
    // tempo check is commented out): it writes zeros to Rank, Consensus, Incentive and
    // Dividends, sets every permit and `Active`, and pays each hotkey by stake alone. Weights
    // are stored and never read, so no client can make incentive follow them here; a runtime
    // with Yuma (spec 233, the rao mainnet deployment, and later) is needed for that.
    let incentive: Vec<u16> = neurons.iter().map(|n| n.incentive).collect();
    assert!(incentive.iter().all(|&i| i == 0), "{neurons:#?}");
    for &u in &m_uids {
        assert_eq!(emission[u as usize], 0, "a miner without stake was paid");
    }
    let stake_weight: Vec<u128> = {
        let v = chain
            .storage(
                "SubtensorModule",
                "StakeWeight",
                vec![Value::u128(netuid.into())],
            )
            .await
            .unwrap()
            .unwrap();
        gradient_subtensor::value::items(&v)
            .unwrap()
            .into_iter()
            .map(|x| gradient_subtensor::value::number(x).unwrap())
            .collect()
    };
    let total_emission: u64 = emission.iter().sum();
    let total_weight: u128 = stake_weight.iter().sum();
    for (uid, (&paid, &weight)) in emission.iter().zip(&stake_weight).enumerate() {
        let share_paid = paid as f64 / total_emission as f64;
        let share_staked = weight as f64 / total_weight as f64;
        assert!(
            (share_paid - share_staked).abs() < 1e-3,
            "uid {uid}: paid {share_paid}, staked {share_staked} ({emission:?}, {stake_weight:?})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_pallet_error() {
    let Some(net) = support::chain().await else {
        return;
    };
    let chain = &net.chain;
    let stranger = fresh("stranger");
    let alice = Keypair::from_uri("//Alice").unwrap();
    chain
        .transfer(&alice, &stranger.account(), 10 * TAO)
        .await
        .unwrap();
    let e = chain
        .set_weights(&stranger, 1, &[0], &[1], 0)
        .await
        .unwrap_err();
    assert_eq!(
        e.pallet_error(),
        Some("SubtensorModule::HotKeyNotRegisteredInSubNet"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("register the hotkey on this subnet first"),
        "{e}"
    );
    // A coldkey with nothing to pay with.
    let poor = fresh("poor");
    let e = chain
        .burned_register(&poor, 1, &fresh("hot").account())
        .await
        .unwrap_err();
    assert!(matches!(e, SubtensorError::Refused { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("not enough balance to register") && text.contains(" TAO"),
        "{text}"
    );
    assert!(text.contains("fund the coldkey"), "{text}");
}
