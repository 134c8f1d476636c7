//! Commit-reveal offline: the plain text, the round, the sealed bytes against a real quicknet
//! pulse, and the call against the late-2025 finney metadata (from `GRADIENT_SUBTENSOR_SHARED`).

use gradient_subtensor::commit_reveal::{call_data_offline, commit_call, os_randomness};
use gradient_subtensor::{RevealTiming, WeightsPayload};
use gradient_timelock::{Ciphertext, PublicKey, Round, Signature, TimelockError, decrypt, encrypt};

const ROUND_1000: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

fn payload() -> WeightsPayload {
    WeightsPayload {
        hotkey: [7; 32],
        uids: vec![0, 3],
        values: vec![65535, 258],
        version_key: 0x0102_0304,
    }
}

#[test]
fn the_payload_is_subtensors_scale_weights_tlock_payload() {
    let mut expected = vec![32 << 2];
    expected.extend([7u8; 32]);
    expected.extend([2 << 2, 0, 0, 3, 0]);
    expected.extend([2 << 2, 0xff, 0xff, 2, 1]);
    expected.extend([4, 3, 2, 1, 0, 0, 0, 0]);
    assert_eq!(payload().encode(), expected);
}

#[test]
fn sealed_for_round_1000_it_decrypts_with_the_pulse_to_the_exact_payload() {
    let key = PublicKey::quicknet();
    let pulse = Signature::from_hex(ROUND_1000).unwrap();
    let plain = payload().encode();
    let sealed = encrypt(&key, Round(1000), &plain, &os_randomness().unwrap()).to_bytes();
    let read = Ciphertext::from_bytes(&sealed, 8192).unwrap();
    assert_eq!(decrypt(&read, &pulse).unwrap(), plain);
    let other = encrypt(&key, Round(1001), &plain, &os_randomness().unwrap());
    assert_eq!(decrypt(&other, &pulse), Err(TimelockError::WrongRound));
    // Two commits of the same weights share no bytes past the layout.
    let again = encrypt(&key, Round(1000), &plain, &os_randomness().unwrap()).to_bytes();
    assert_ne!(sealed[..96], again[..96]);
}

#[test]
fn the_round_is_the_reveal_epochs_less_the_pulse_delay() {
    // netuid 1, tempo 99: epochs end where (block + 2) % 100 == 0, so block 1000 is in epoch 10
    // and, two epochs on, the reveal epoch starts at block 1198: 198 blocks, 2376 s ahead.
    let timing = RevealTiming {
        block: 1000,
        now_ms: Round(5000).time() * 1000,
        netuid: 1,
        tempo: 99,
        reveal_period_epochs: 2,
        block_ms: 12_000,
    };
    assert_eq!(timing.reveal_round(), Round(5000 + 2376 / 3 - 24));
    // Block 997 is the last of epoch 9: its reveal epoch starts at block 1098, 101 blocks on.
    let last = RevealTiming {
        block: 997,
        ..timing
    };
    assert_eq!(last.reveal_round(), Round(5000 + 101 * 12 / 3 - 24));
    // Quarter-second blocks (a fast local chain): 101 blocks are 25.25 s, the round after.
    let fast = RevealTiming {
        block_ms: 250,
        ..last
    };
    assert_eq!(fast.reveal_round(), Round(5000 + 9 - 24));
}

/// The folder with the runtime metadata files, or `None` after saying why the test skips.
fn shared() -> Option<std::path::PathBuf> {
    let shared = std::env::var_os("GRADIENT_SUBTENSOR_SHARED");
    if shared.is_none() {
        eprintln!(
            "skipped: GRADIENT_SUBTENSOR_SHARED names no folder with finney-metadata-late2025.scale (CI sets it)"
        );
    }
    shared.map(std::path::PathBuf::from)
}

#[test]
fn the_block_time_is_read_from_the_runtime() {
    let Some(shared) = shared() else { return };
    let read = |name: &str| {
        let bytes = std::fs::read(shared.join(name)).expect(name);
        subxt::Metadata::decode_from(&bytes[..]).expect(name)
    };
    let finney = read("finney-metadata-late2025.scale");
    assert_eq!(
        gradient_subtensor::commit_reveal::block_ms(&finney).unwrap(),
        12_000
    );
    let spec218 =
        gradient_subtensor::commit_reveal::block_ms(&read("raonet-spec218-metadata-v15.scale"))
            .unwrap();
    assert!(spec218 > 0 && spec218.is_multiple_of(1000), "{spec218}");
}

#[test]
fn the_commit_call_encodes_against_the_late_2025_finney_metadata() {
    let Some(shared) = shared() else { return };
    let metadata = std::fs::read(shared.join("finney-metadata-late2025.scale"))
        .expect("finney-metadata-late2025.scale in GRADIENT_SUBTENSOR_SHARED");
    let commit: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let call = commit_call(7, &commit, Round(123_456), 4);
    let bytes = call_data_offline(&metadata, &call).unwrap();
    // pallet and call index, netuid u16, the commit as compact-length bytes, round u64, version.
    let mut args = vec![7, 0, 0xb1, 0x04];
    args.extend(&commit);
    args.extend(123_456u64.to_le_bytes());
    args.extend(4u16.to_le_bytes());
    assert_eq!(
        &bytes[2..],
        &args[..],
        "arguments as subtensor decodes them"
    );
    // A call the runtime does not have is refused by name.
    let missing = gradient_subtensor::commit_reveal::commit_call(7, &commit, Round(1), 4);
    let spec218 = std::fs::read(shared.join("raonet-spec218-metadata-v15.scale"))
        .expect("raonet-spec218-metadata-v15.scale");
    let err = call_data_offline(&spec218, &missing)
        .unwrap_err()
        .to_string();
    assert!(err.contains("commit_timelocked_weights"), "{err}");
}
