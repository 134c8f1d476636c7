//! drand's quicknet beacon: its public key, its rounds' times, and the point each round's
//! signature signs (`bls-unchained-g1-rfc9380`: signatures in G1, the key in G2, the message
//! `sha256(round as u64 big-endian)` hashed to G1 by RFC 9380 with SHA-256 and SSWU).

use ark_bls12_381::{Bls12_381, G1Affine, G1Projective, G2Affine, g1};
use ark_ec::AffineRepr;
use ark_ec::hashing::HashToCurve;
use ark_ec::hashing::curve_maps::wb::WBMap;
use ark_ec::hashing::map_to_curve_hasher::MapToCurveBasedHasher;
use ark_ec::pairing::Pairing;
use ark_ff::field_hashers::DefaultFieldHasher;
use ark_serialize::CanonicalDeserialize;
use sha2::{Digest, Sha256};

use crate::error::{TimelockError, malformed};

/// Quicknet's domain separation tag for hashing a round's message to G1.
const DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// Quicknet's group public key (G2, compressed).
pub const QUICKNET_PUBLIC_KEY: &str = "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a";
/// Unix time of quicknet's round 1.
pub const QUICKNET_GENESIS: u64 = 1_692_803_367;
/// Seconds between quicknet rounds.
pub const QUICKNET_PERIOD: u64 = 3;

/// A drand round number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Round(pub u64);

impl Round {
    /// The first quicknet round whose signature is published at or after unix time `secs`.
    pub fn at_or_after(secs: u64) -> Round {
        let since = secs.saturating_sub(QUICKNET_GENESIS);
        Round(since.div_ceil(QUICKNET_PERIOD) + 1)
    }

    /// Unix time at which quicknet publishes this round.
    pub fn time(self) -> u64 {
        QUICKNET_GENESIS + self.0.saturating_sub(1) * QUICKNET_PERIOD
    }

    /// What drand signs for this round: `sha256(round as u64 big-endian)`.
    pub fn message(self) -> [u8; 32] {
        Sha256::digest(self.0.to_be_bytes()).into()
    }

    /// The round's message hashed to G1: the identity a ciphertext for this round is sealed to.
    pub(crate) fn point(self) -> G1Affine {
        MapToCurveBasedHasher::<G1Projective, DefaultFieldHasher<Sha256, 128>, WBMap<g1::Config>>::new(DST)
            .and_then(|h| h.hash(&self.message()))
            .expect("RFC 9380 hashing to G1 with a fixed tag cannot fail")
    }
}

/// A beacon's public key: a point of G2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(pub(crate) G2Affine);

impl PublicKey {
    /// Quicknet's key.
    pub fn quicknet() -> PublicKey {
        PublicKey::from_hex(QUICKNET_PUBLIC_KEY).expect("quicknet's key is a valid G2 point")
    }

    /// A compressed G2 point (96 bytes), checked to be on the curve and in the subgroup.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, TimelockError> {
        point(bytes, 96, "public key", "G2").map(PublicKey)
    }

    pub fn from_hex(text: &str) -> Result<PublicKey, TimelockError> {
        PublicKey::from_bytes(&unhex(text, "public key")?)
    }
}

/// A round's beacon signature: a point of G1, which is also the round's decryption key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature(pub(crate) G1Affine);

impl Signature {
    /// A compressed G1 point (48 bytes), checked to be on the curve and in the subgroup.
    pub fn from_bytes(bytes: &[u8]) -> Result<Signature, TimelockError> {
        point(bytes, 48, "signature", "G1").map(Signature)
    }

    pub fn from_hex(text: &str) -> Result<Signature, TimelockError> {
        Signature::from_bytes(&unhex(text, "signature")?)
    }

    /// Whether this is the beacon's signature of `round`: `e(σ, g₂) = e(H(round), key)`.
    pub fn verifies(&self, key: &PublicKey, round: Round) -> bool {
        Bls12_381::pairing(self.0, G2Affine::generator())
            == Bls12_381::pairing(round.point(), key.0)
    }
}

/// A compressed point of `len` bytes; arkworks checks it is on the curve and in the subgroup.
fn point<P: CanonicalDeserialize>(
    bytes: &[u8],
    len: usize,
    what: &'static str,
    group: &str,
) -> Result<P, TimelockError> {
    if bytes.len() != len {
        return Err(malformed(
            what,
            format!("{} bytes, expected {len}", bytes.len()),
        ));
    }
    P::deserialize_compressed(bytes)
        .map_err(|e| malformed(what, format!("not a {group} point: {e}")))
}

fn unhex(text: &str, what: &'static str) -> Result<Vec<u8>, TimelockError> {
    hex::decode(text.trim_start_matches("0x")).map_err(|e| malformed(what, format!("not hex: {e}")))
}
