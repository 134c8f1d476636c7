//! The embedded chain on a real SQLite file: registration, weights, commitments, epochs, and
//! every refusal leaving state unchanged.

use std::sync::Arc;

use gradient_chain::{
    Call, ChainError, EmbeddedChain, Keypair, LocalChain, ManualClock, SignedCall, SubnetParams,
};

const BLOCK_MS: u64 = 1000;

fn params() -> SubnetParams {
    SubnetParams {
        max_uids: 4,
        immunity_period: 20,
        weights_rate_limit: 5,
        weights_version_key: 3,
        tempo: 10,
        activity_cutoff: 100,
        block_time_ms: BLOCK_MS,
        ..SubnetParams::devnet(0)
    }
}

fn chain(dir: &tempfile::TempDir) -> (LocalChain, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(0));
    let chain = LocalChain::open_with(
        &dir.path().join("chain.sqlite"),
        Some(&params()),
        clock.clone(),
    )
    .unwrap();
    (chain, clock)
}

fn owner() -> Keypair {
    Keypair::dev("owner")
}

/// Registers a validator with stake and a miner, and moves past the first epoch so the
/// validator holds a permit.
fn validator_and_miner(chain: &LocalChain, clock: &ManualClock) -> (Keypair, Keypair) {
    let validator = Keypair::dev("validator");
    let miner = Keypair::dev("miner");
    assert_eq!(chain.register(&validator, owner().account()).unwrap(), 0);
    assert_eq!(chain.register(&miner, owner().account()).unwrap(), 1);
    chain
        .set_stake(&validator.account(), 1_000_000_000_000)
        .unwrap();
    clock.set(10 * BLOCK_MS);
    let graph = chain.metagraph().unwrap();
    assert!(graph.neurons[0].validator_permit);
    assert!(!graph.neurons[1].validator_permit);
    (validator, miner)
}

#[test]
fn weights_become_incentive_at_the_next_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, clock) = chain(&dir);
    let (validator, miner) = validator_and_miner(&chain, &clock);
    chain.set_weights(&validator, &[1], &[1.0], 3).unwrap();
    assert_eq!(chain.metagraph().unwrap().neurons[0].weights, [(1, 65535)]);
    clock.set(20 * BLOCK_MS);
    let graph = chain.metagraph().unwrap();
    let m = graph.neuron(1).unwrap();
    assert_eq!(m.hotkey, miner.account());
    assert_eq!((m.incentive, m.consensus), (65535, 65535));
    assert_eq!(graph.neurons[0].dividends, 65535);
    assert!(m.emission > 0);
    // 82% of 10 blocks x 1 TAO goes to neurons, half to the miner, half to the validator.
    let total: u64 = graph.neurons.iter().map(|n| n.emission).sum();
    let to_neurons = 10 * 1_000_000_000u64 - 10 * 1_000_000_000u64 * 11796 / 65535;
    assert!(
        total <= to_neurons && to_neurons - total < 10,
        "{total} vs {to_neurons}"
    );
    assert!(m.emission.abs_diff(graph.neurons[0].emission) < 10);

    let epochs = chain.epochs(0).unwrap();
    assert_eq!(epochs.iter().map(|e| e.block).collect::<Vec<_>>(), [10, 20]);
    assert_eq!(epochs[1].neurons[1].incentive, 65535);
    assert_eq!(chain.epochs(15).unwrap().len(), 1);
}

#[test]
fn missed_epochs_run_in_order_once() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, clock) = chain(&dir);
    let (validator, _) = validator_and_miner(&chain, &clock);
    chain.set_weights(&validator, &[1], &[1.0], 3).unwrap();
    clock.set(95 * BLOCK_MS);
    let blocks: Vec<u64> = chain.epochs(0).unwrap().iter().map(|e| e.block).collect();
    assert_eq!(blocks, [10, 20, 30, 40, 50, 60, 70, 80, 90]);
    // A second handle on the same file sees the same epochs and runs none again.
    let other = LocalChain::open_with(
        &dir.path().join("chain.sqlite"),
        None,
        Arc::new(ManualClock::new(95 * BLOCK_MS)),
    )
    .unwrap();
    assert_eq!(other.epochs(0).unwrap().len(), 9);
    assert_eq!(other.metagraph().unwrap(), chain.metagraph().unwrap());
}

#[test]
fn commitments_are_per_hotkey_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, clock) = chain(&dir);
    let (validator, miner) = validator_and_miner(&chain, &clock);
    chain.commit(&miner, b"s3://bucket/prefix").unwrap();
    chain.commit(&validator, b"file:///tmp/v").unwrap();
    let c = chain.commitment(&miner.account()).unwrap().unwrap();
    assert_eq!(
        (c.data.as_slice(), c.block),
        (&b"s3://bucket/prefix"[..], 10)
    );
    assert_eq!(chain.commitments().unwrap().len(), 2);
    let err = chain.commit(&miner, &[7u8; 129]).unwrap_err();
    assert!(matches!(err, ChainError::CommitmentTooLarge(129)), "{err}");
    assert_eq!(chain.commitment(&miner.account()).unwrap().unwrap(), c);
    let stranger = Keypair::dev("stranger");
    assert!(matches!(
        chain.commit(&stranger, b"x"),
        Err(ChainError::NotRegistered(_))
    ));
}

#[test]
fn bad_weights_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, clock) = chain(&dir);
    let (validator, miner) = validator_and_miner(&chain, &clock);
    chain.set_weights(&validator, &[1], &[1.0], 3).unwrap();
    let before = chain.metagraph().unwrap();
    let nonce = chain.nonce(&validator.account()).unwrap();
    clock.set(19 * BLOCK_MS);

    let raw = |uids: Vec<u16>, weights: Vec<u16>, version_key| Call::SetWeights {
        uids,
        weights,
        version_key,
    };
    let cases: Vec<(ChainError, &str)> = vec![
        (
            chain
                .sign_and_submit(&validator, raw(vec![9], vec![1], 3))
                .unwrap_err(),
            "uid 9 does not exist",
        ),
        (
            chain
                .sign_and_submit(&validator, raw(vec![0, 1], vec![1], 3))
                .unwrap_err(),
            "2 uids but 1 weights",
        ),
        (
            chain
                .sign_and_submit(&validator, raw(vec![1, 1], vec![1, 2], 3))
                .unwrap_err(),
            "appears twice",
        ),
        (
            chain
                .sign_and_submit(&validator, raw(vec![1], vec![1], 2))
                .unwrap_err(),
            "version key 2",
        ),
        (
            chain
                .set_weights(&validator, &[1], &[f32::NAN], 3)
                .unwrap_err(),
            "not a finite",
        ),
        (
            chain.set_weights(&validator, &[1], &[-0.5], 3).unwrap_err(),
            "not a finite",
        ),
        (
            chain.set_weights(&miner, &[0], &[1.0], 3).unwrap_err(),
            "no validator permit",
        ),
        (
            chain
                .set_weights(&Keypair::dev("nobody"), &[0], &[1.0], 3)
                .unwrap_err(),
            "not registered",
        ),
    ];
    for (err, want) in &cases {
        assert!(err.to_string().contains(want), "{err} lacks {want:?}");
    }
    // Set at block 10 with a limit of 5: refused at 14, allowed at 15.
    clock.set(14 * BLOCK_MS);
    let err = chain.set_weights(&validator, &[1], &[0.5], 3).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::RateLimited {
                last: 10,
                next: 15,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(chain.metagraph().unwrap().neurons, before.neurons);
    assert_eq!(chain.nonce(&validator.account()).unwrap(), nonce);
    clock.set(15 * BLOCK_MS);
    chain
        .set_weights(&validator, &[0, 1], &[0.5, 1.0], 3)
        .unwrap();
}

#[test]
fn forged_replayed_and_foreign_calls_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, clock) = chain(&dir);
    let (_, miner) = validator_and_miner(&chain, &clock);
    let id = chain.chain_id().unwrap();
    let call = SignedCall::sign(
        &miner,
        &id,
        5,
        Call::Commit {
            data: b"a".to_vec(),
        },
    );
    chain.submit(&call).unwrap();
    let replay = chain.submit(&call).unwrap_err();
    assert!(
        matches!(
            replay,
            ChainError::Replay {
                nonce: 5,
                last: 5,
                ..
            }
        ),
        "{replay}"
    );
    let older = SignedCall::sign(
        &miner,
        &id,
        4,
        Call::Commit {
            data: b"b".to_vec(),
        },
    );
    assert!(matches!(
        chain.submit(&older),
        Err(ChainError::Replay { .. })
    ));

    let mut forged = SignedCall::sign(
        &miner,
        &id,
        6,
        Call::Commit {
            data: b"c".to_vec(),
        },
    );
    forged.payload = forged.payload.replace("\"63\"", "\"64\"");
    forged.signature.0[0] ^= 1;
    assert!(matches!(
        chain.submit(&forged),
        Err(ChainError::BadSignature(_))
    ));

    let foreign = SignedCall::sign(
        &miner,
        "another-chain",
        7,
        Call::Commit {
            data: b"d".to_vec(),
        },
    );
    assert!(matches!(
        chain.submit(&foreign),
        Err(ChainError::WrongChain { .. })
    ));

    let commitment = chain.commitment(&miner.account()).unwrap().unwrap();
    assert_eq!(commitment.data, b"a");
    assert_eq!(chain.nonce(&miner.account()).unwrap(), 5);
}

#[test]
fn a_full_subnet_replaces_the_lowest_emission_outside_immunity() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, clock) = chain(&dir);
    let (validator, _) = validator_and_miner(&chain, &clock);
    let m2 = Keypair::dev("m2");
    let m3 = Keypair::dev("m3");
    assert_eq!(chain.register(&m2, owner().account()).unwrap(), 2);
    assert_eq!(chain.register(&m3, owner().account()).unwrap(), 3);
    chain.commit(&m2, b"m2").unwrap();
    // Everyone registered at block 0 or 10 is immune until block 20 or 30.
    let late = Keypair::dev("late");
    let err = chain.register(&late, owner().account()).unwrap_err();
    assert!(matches!(err, ChainError::SubnetFull(4, 20)), "{err}");

    // The validator weights m1 and m3; m2 earns nothing and is replaced.
    chain
        .set_weights(&validator, &[1, 3], &[1.0, 1.0], 3)
        .unwrap();
    clock.set(40 * BLOCK_MS);
    assert_eq!(chain.register(&late, owner().account()).unwrap(), 2);
    let graph = chain.metagraph().unwrap();
    assert_eq!(graph.neurons.len(), 4);
    assert_eq!(graph.neurons[2].hotkey, late.account());
    assert_eq!(graph.neurons[2].registered_at, 40);
    assert_eq!(graph.uid_of(&m2.account()), None);
    assert_eq!(chain.commitment(&m2.account()).unwrap(), None);
    // Registering again is idempotent.
    assert_eq!(chain.register(&late, owner().account()).unwrap(), 2);
}

#[test]
fn block_hashes_exist_only_for_produced_blocks_and_differ() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, clock) = chain(&dir);
    clock.set(5 * BLOCK_MS);
    let h4 = chain.block_hash(4).unwrap();
    assert_ne!(h4, chain.block_hash(5).unwrap());
    assert!(chain.block_hash(6).is_err());
    let other =
        LocalChain::open_with(&dir.path().join("chain.sqlite"), None, clock.clone()).unwrap();
    assert_eq!(other.block_hash(4).unwrap(), h4);
}

#[test]
fn a_chain_file_keeps_its_parameters_and_refuses_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.sqlite");
    let first = LocalChain::open_or_create(&path, &params()).unwrap();
    let other_params = SubnetParams {
        tempo: 99,
        ..params()
    };
    let second = LocalChain::open_or_create(&path, &other_params).unwrap();
    assert_eq!(second.params().unwrap().tempo, 10);
    assert_eq!(first.chain_id().unwrap(), second.chain_id().unwrap());

    let err = LocalChain::open(&dir.path().join("missing.sqlite")).unwrap_err();
    assert!(err.to_string().contains("gradient chain init"), "{err}");
    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(&garbage, b"this is not a database, just text").unwrap();
    let err = LocalChain::open(&garbage).unwrap_err().to_string();
    assert!(err.contains("garbage.sqlite"), "{err}");
}
