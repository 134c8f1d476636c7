//! The embedded chain served over HTTP: the client sees the same chain, and every refusal
//! crosses the wire with its kind.

use std::io::{Read, Write};
use std::sync::Arc;

use gradient_chain::{
    Call, ChainError, EmbeddedChain, Keypair, LocalChain, ManualClock, RemoteChain, SignedCall,
    SubnetParams, serve,
};

#[test]
fn a_remote_client_sees_and_changes_the_same_chain() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let params = SubnetParams {
        weights_rate_limit: 3,
        ..SubnetParams::devnet(0)
    };
    let local = Arc::new(
        LocalChain::open_with(
            &dir.path().join("chain.sqlite"),
            Some(&params),
            clock.clone(),
        )
        .unwrap(),
    );
    let server = serve(local.clone(), "127.0.0.1:0").unwrap();
    let remote = RemoteChain::connect(&server.url()).unwrap();
    assert_eq!(remote.chain_id().unwrap(), local.chain_id().unwrap());
    assert_eq!(remote.params().unwrap(), params);

    let owner = Keypair::dev("owner").account();
    let validator = Keypair::dev("validator");
    let miner = Keypair::dev("miner");
    assert_eq!(remote.register(&validator, owner).unwrap(), 0);
    assert_eq!(remote.register(&miner, owner).unwrap(), 1);
    remote.commit(&miner, b"s3://miner-bucket").unwrap();
    local
        .set_stake(&validator.account(), 10_000_000_000)
        .unwrap();
    clock.set(10_000);
    remote.set_weights(&validator, &[1], &[1.0], 0).unwrap();
    clock.set(20_000);
    assert_eq!(remote.metagraph().unwrap(), local.metagraph().unwrap());
    assert_eq!(remote.metagraph().unwrap().neurons[1].incentive, 65535);
    assert_eq!(remote.head().unwrap().block, 20);
    assert_eq!(remote.epochs(0).unwrap(), local.epochs(0).unwrap());
    assert_eq!(
        remote.commitment(&miner.account()).unwrap().unwrap().data,
        b"s3://miner-bucket"
    );
    assert_eq!(remote.commitments().unwrap().len(), 1);

    // Refusals keep their kind across the wire.
    let refused = |e: ChainError| match e {
        ChainError::Refused { kind, message, .. } => (kind, message),
        other => panic!("expected a refusal, got {other}"),
    };
    let (kind, message) = refused(remote.set_weights(&miner, &[0], &[1.0], 0).unwrap_err());
    assert_eq!(kind, "no_permit", "{message}");
    let (kind, _) = refused(remote.set_weights(&validator, &[7], &[1.0], 0).unwrap_err());
    assert_eq!(kind, "invalid_weights");
    remote.set_weights(&validator, &[1], &[1.0], 0).unwrap();
    clock.set(21_000);
    let err = remote.set_weights(&validator, &[1], &[1.0], 0).unwrap_err();
    assert!(err.is_rate_limited(), "{err}");

    let id = remote.chain_id().unwrap();
    let call = SignedCall::sign(
        &miner,
        &id,
        100,
        Call::Commit {
            data: b"x".to_vec(),
        },
    );
    remote.submit(&call).unwrap();
    assert!(remote.submit(&call).unwrap_err().is_replay());
    let mut forged = SignedCall::sign(
        &miner,
        &id,
        101,
        Call::Commit {
            data: b"y".to_vec(),
        },
    );
    forged.signature.0[10] ^= 0xff;
    assert_eq!(
        refused(remote.submit(&forged).unwrap_err()).0,
        "bad_signature"
    );
    assert_eq!(
        remote.commitment(&miner.account()).unwrap().unwrap().data,
        b"x"
    );
}

#[test]
fn the_server_refuses_garbage_and_huge_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(
        LocalChain::open_or_create(&dir.path().join("c.sqlite"), &SubnetParams::devnet(0)).unwrap(),
    );
    let server = serve(local, "127.0.0.1:0").unwrap();
    let post = |body: &[u8]| {
        let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
        write!(
            stream,
            "POST /v1/submit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        let _ = stream.write_all(body);
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    };
    let answer = post(b"{not json");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("malformed"), "{answer}");
    let answer = post(&vec![b'x'; 1 << 20]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("over"), "{answer}");

    let err = RemoteChain::connect("http://127.0.0.1:1").unwrap_err();
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}
