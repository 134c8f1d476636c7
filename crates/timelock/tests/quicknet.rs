//! Against a real quicknet pulse (round 1000, from subtensor's drand pallet tests).

use gradient_timelock::{
    Ciphertext, PublicKey, Randomness, Round, Signature, TimelockError, decrypt, encrypt,
};

const ROUND_1000: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

fn pulse() -> Signature {
    Signature::from_hex(ROUND_1000).unwrap()
}

fn randomness(seed: u8) -> Randomness {
    Randomness {
        scalar: std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8)),
        key: std::array::from_fn(|i| seed ^ (i as u8).wrapping_mul(7)),
        nonce: std::array::from_fn(|i| seed.wrapping_add(3 * i as u8)),
    }
}

#[test]
fn the_recorded_pulse_is_quicknets_signature_of_round_1000_only() {
    let key = PublicKey::quicknet();
    assert!(
        pulse().verifies(&key, Round(1000)),
        "RFC 9380 hash to G1 and the pairing check"
    );
    assert!(!pulse().verifies(&key, Round(999)));
    assert!(!pulse().verifies(&key, Round(1001)));
}

#[test]
fn sealed_for_round_1000_it_opens_with_that_pulse_and_no_other_round_does() {
    let key = PublicKey::quicknet();
    let message: Vec<u8> = (0..300u32).map(|i| (i * 13 % 251) as u8).collect();
    let sealed = encrypt(&key, Round(1000), &message, &randomness(1));
    assert_eq!(decrypt(&sealed, &pulse()).unwrap(), message);
    let elsewhere = encrypt(&key, Round(1001), &message, &randomness(1));
    assert_eq!(
        decrypt(&elsewhere, &pulse()),
        Err(TimelockError::WrongRound)
    );
    // Through the bytes, as the chain reads them.
    let bytes = sealed.to_bytes();
    assert_eq!(bytes.len(), 228 + message.len() + 16);
    let back = Ciphertext::from_bytes(&bytes, 4096).unwrap();
    assert_eq!(decrypt(&back, &pulse()).unwrap(), message);
}

#[test]
fn the_bytes_follow_the_tle_layout() {
    let message = b"twelve bytes";
    let bytes = encrypt(&PublicKey::quicknet(), Round(1000), message, &randomness(2)).to_bytes();
    let n = message.len() + 16;
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!(bytes[0] & 0x80, 0x80, "U is a compressed point");
    assert_eq!((u64_at(96), u64_at(136)), (32, 32));
    assert_eq!(u64_at(176), (n + 28) as u64);
    assert_eq!(u64_at(184), n as u64);
    assert_eq!(u64_at(192 + n), 12);
    assert_eq!(&bytes[200 + n..212 + n], &randomness(2).nonce);
    assert_eq!(u64_at(212 + n), 8);
    assert_eq!(&bytes[220 + n..], b"AES_GCM_");
    // The same randomness gives the same bytes; other randomness other bytes.
    let again = encrypt(&PublicKey::quicknet(), Round(1000), message, &randomness(2)).to_bytes();
    let other = encrypt(&PublicKey::quicknet(), Round(1000), message, &randomness(3)).to_bytes();
    assert_eq!(bytes, again);
    assert_ne!(bytes, other);
}

#[test]
fn an_altered_body_or_header_is_refused_never_opened() {
    let message = b"uids and weights";
    let bytes = encrypt(&PublicKey::quicknet(), Round(1000), message, &randomness(4)).to_bytes();
    let n = message.len() + 16;
    let mut body = bytes.clone();
    body[192 + 3] ^= 1;
    let altered = Ciphertext::from_bytes(&body, 4096).unwrap();
    assert_eq!(decrypt(&altered, &pulse()), Err(TimelockError::Tampered));
    for at in [104, 144 + 5] {
        let mut header = bytes.clone();
        header[at] ^= 0x40;
        let altered = Ciphertext::from_bytes(&header, 4096).unwrap();
        assert_eq!(
            decrypt(&altered, &pulse()),
            Err(TimelockError::WrongRound),
            "byte {at}"
        );
    }
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (bytes[..bytes.len() - 1].to_vec(), "runs past the end"),
        ([bytes.clone(), vec![0]].concat(), "after the cipher suite"),
        (patch(&bytes, 96, 31), "expected 32"),
        (patch(&bytes, 184, u64::MAX), "runs past the end"),
        (patch(&bytes, 176, (n + 27) as u64), "the body says"),
        (patch(&bytes, 192 + n, 11), "expected 12"),
        ([&bytes[..220 + n], b"CHACHA20"].concat(), "cipher suite"),
        (vec![0u8; 10], "needs 96 bytes"),
    ];
    for (hostile, says) in cases {
        let err = Ciphertext::from_bytes(&hostile, 4096)
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{says}: {err}");
    }
    let mut off_curve = bytes.clone();
    off_curve[1..96].fill(0xff);
    let err = Ciphertext::from_bytes(&off_curve, 4096)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a G2 point"), "{err}");
    let err = Ciphertext::from_bytes(&bytes, 100).unwrap_err().to_string();
    assert!(err.contains("more than the 100 allowed"), "{err}");
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let bytes = encrypt(&PublicKey::quicknet(), Round(1000), b"x", &randomness(5)).to_bytes();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..300 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut b = bytes.clone();
        let at = (x >> 33) as usize % b.len();
        b[at] = (x >> 17) as u8;
        b.truncate(b.len() - (x as usize % 3));
        if let Ok(c) = Ciphertext::from_bytes(&b, 4096) {
            let _ = decrypt(&c, &pulse());
        }
    }
}

#[test]
fn rounds_follow_quicknets_clock_and_keys_are_checked() {
    assert_eq!(Round(1).time(), 1_692_803_367);
    assert_eq!(Round(1000).time(), 1_692_803_367 + 999 * 3);
    assert_eq!(Round::at_or_after(Round(1000).time()), Round(1000));
    assert_eq!(Round::at_or_after(Round(1000).time() + 1), Round(1001));
    assert_eq!(Round::at_or_after(0), Round(1));
    assert!(PublicKey::from_bytes(&[0u8; 95]).is_err());
    assert!(Signature::from_hex("00").is_err());
    assert!(Signature::from_bytes(&[0xffu8; 48]).is_err());
}

fn patch(bytes: &[u8], at: usize, value: u64) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at..at + 8].copy_from_slice(&value.to_le_bytes());
    out
}
