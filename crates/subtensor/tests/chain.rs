//! The nodes' `Chain` on a real subtensor runtime (chopsticks, spec 218): what a miner and a
//! validator read and write through `SubtensorChain`, against the same chain read directly.

mod support;

use gradient_chain::{Chain, ChainError, Keypair};
use gradient_subtensor::{Endpoint, Mechanism, SubtensorChain, Timeouts};
use subxt::dynamic::Value;
use subxt::ext::scale_value::Composite;

const TAO: u128 = 1_000_000_000;

fn args(pairs: &[(&str, u128)]) -> Composite<()> {
    Composite::named(
        pairs
            .iter()
            .map(|(name, v)| (name.to_string(), Value::u128(*v))),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miner_and_a_validator_through_the_chain_trait() {
    let Some(net) = support::chain().await else {
        return;
    };
    let direct = &net.chain;
    let alice = Keypair::from_uri("//Alice").unwrap();
    let bob = Keypair::from_uri("//Bob").unwrap();
    let sudo = |call: &'static str, pairs: Vec<(&'static str, u128)>| {
        direct.sudo(&alice, "AdminUtils", call, args(&pairs))
    };
    sudo("sudo_set_network_rate_limit", vec![("rate_limit", 0)])
        .await
        .unwrap();
    let owner = Keypair::generate().unwrap().0;
    let netuid = direct
        .register_network(&alice, &owner.account(), Mechanism::Dynamic)
        .await
        .unwrap();
    let endpoint = Endpoint::from_flags(None, Some(&net.url)).unwrap().unwrap();
    let timeouts = Timeouts::default();

    // A subnet that does not exist is refused at connect, in words.
    let e = SubtensorChain::connect(&endpoint, netuid + 100, timeouts)
        .await
        .err()
        .expect("a missing subnet is refused");
    assert!(e.to_string().contains(&format!("{}", netuid + 100)), "{e}");
    let chain = SubtensorChain::connect(&endpoint, netuid, timeouts)
        .await
        .unwrap();

    let (validator, miner) = (
        Keypair::generate().unwrap().0,
        Keypair::generate().unwrap().0,
    );
    // Not registered yet: the node is told how to register, and nothing is paid for it.
    let e = chain
        .register(&miner, bob.account())
        .await
        .expect_err("registration costs the coldkey, so nodes do not do it");
    assert!(
        matches!(&e, ChainError::Refused { kind, .. } if kind == "not_registered"),
        "{e}"
    );
    assert!(e.to_string().contains("gradient subnet register"), "{e}");
    let v_uid = direct
        .burned_register(&bob, netuid, &validator.account())
        .await
        .unwrap();
    let m_uid = direct
        .burned_register(&bob, netuid, &miner.account())
        .await
        .unwrap();
    assert_eq!(chain.register(&miner, bob.account()).await.unwrap(), m_uid);

    // Parameters, head, block hashes and the metagraph, as the chain holds them.
    let params = chain.params().await.unwrap();
    assert_eq!(params.netuid, netuid);
    // The block time the chain's timestamps show (chopsticks stamps each block one slot
    // after its parent), not a nominal one.
    let now = direct.block(None).await.unwrap();
    let span = (now.number - 1).min(gradient_subtensor::chain::BLOCK_TIME_OVER);
    let then = direct.block(Some(now.number - span)).await.unwrap();
    assert_eq!(
        params.block_time_ms,
        (now.timestamp_ms - then.timestamp_ms) / span
    );
    let tempo = direct
        .storage_or_default("SubtensorModule", "Tempo", vec![Value::u128(netuid.into())])
        .await
        .unwrap();
    assert_eq!(
        params.tempo as u128,
        gradient_subtensor::value::number(&tempo).unwrap()
    );
    let head = chain.head().await.unwrap();
    let block = direct.block(Some(head.block)).await.unwrap();
    assert_eq!(head.timestamp_ms, block.timestamp_ms);
    assert_eq!(chain.block_hash(head.block).await.unwrap(), block.hash);
    assert_ne!(
        chain.block_hash(head.block - 1).await.unwrap(),
        block.hash,
        "each block has its own hash"
    );
    let graph = chain.metagraph().await.unwrap();
    assert_eq!(graph.uid_of(&validator.account()), Some(v_uid));
    assert_eq!(graph.uid_of(&miner.account()), Some(m_uid));
    assert_eq!(graph.neuron(m_uid).unwrap().coldkey, bob.account());

    // The miner's bucket: committed, read back; over the limit refused before signing.
    let bucket = b"s3://gradient-miner/bucket".to_vec();
    chain.commit(&miner, &bucket).await.unwrap();
    let read = chain.commitment(&miner.account()).await.unwrap().unwrap();
    assert_eq!((read.hotkey, read.data.clone()), (miner.account(), bucket));
    assert_eq!(chain.commitments().await.unwrap(), vec![read]);
    let e = chain.commit(&miner, &[7u8; 129]).await.unwrap_err();
    assert!(matches!(e, ChainError::CommitmentTooLarge(129)), "{e}");

    // The validator's weights: stake, short tempo, no rate limit; then a rate limit the node
    // recognises as such.
    net.set_storage(serde_json::json!({
        "SubtensorModule": {
            "SubnetAlphaIn": [[[netuid], (1000 * TAO).to_string()]],
            "SubnetTAO": [[[netuid], (1000 * TAO).to_string()]],
        }
    }))
    .await;
    direct
        .add_stake(&bob, &validator.account(), netuid, (1000 * TAO) as u64)
        .await
        .unwrap();
    sudo(
        "sudo_set_tempo",
        vec![("netuid", netuid.into()), ("tempo", 10)],
    )
    .await
    .unwrap();
    let limit = |n: u128| {
        vec![
            ("netuid", u128::from(netuid)),
            ("weights_set_rate_limit", n),
        ]
    };
    sudo("sudo_set_weights_set_rate_limit", limit(0))
        .await
        .unwrap();
    net.new_blocks(12).await;
    let receipt = chain
        .set_weights(&validator, &[m_uid], &[1.0], 0)
        .await
        .unwrap();
    assert_eq!(receipt.uid, Some(v_uid));
    assert!(receipt.block > head.block);
    let stored = direct.weights(netuid, v_uid).await.unwrap();
    assert_eq!(
        stored.iter().map(|w| (w.uid, w.weight)).collect::<Vec<_>>(),
        vec![(m_uid, 65535)]
    );
    sudo("sudo_set_weights_set_rate_limit", limit(1000))
        .await
        .unwrap();
    let e = chain
        .set_weights(&validator, &[m_uid], &[1.0], 0)
        .await
        .unwrap_err();
    assert!(e.is_rate_limited(), "{e}");

    // The last epoch's results, at the block it ran.
    net.new_blocks(11).await;
    let epochs = chain.epochs(0).await.unwrap();
    assert_eq!(epochs.len(), 1, "{epochs:?}");
    assert!(epochs[0].block > head.block, "{epochs:?}");
    assert_eq!(epochs[0].neurons.len(), 3);
    assert!(chain.epochs(epochs[0].block + 1).await.unwrap().is_empty());
}
