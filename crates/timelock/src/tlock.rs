//! Timelock encryption to a drand round, in the format subtensor's commit-reveal decrypts
//! (the `tle` scheme its runtime pins): Boneh-Franklin identity-based encryption (the
//! Fujisaki-Okamoto "FullIdent" variant) of a fresh 32-byte AES key to the round's identity,
//! and the message under AES-256-GCM with that key.
//!
//! With `P` the G2 generator, `Q = H(round)` in G1, the beacon's key `s·P` and its round
//! signature `s·Q`:
//! - `σ = sha256(t)` for a fresh scalar `t`; `r = sha256(σ ‖ k) mod q` for the AES key `k`;
//! - `U = r·P`, `V = σ ⊕ sha256(e(Q, r·sP))`, `W = k ⊕ sha256(σ)`;
//! - opening with `s·Q`: `σ = V ⊕ sha256(e(sQ, U))`, `k = W ⊕ sha256(σ)`, and `U = r·P` is
//!   checked before `k` is used, so a wrong signature is told apart from a tampered body.
//!
//! `e(·,·)` is hashed in arkworks' canonical form of GT (576 bytes, little-endian limbs), and
//! scalars serialize as 32 bytes little-endian: the bytes `tle` hashes.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ark_bls12_381::{Bls12_381, Fr, G2Affine, G2Projective};
use ark_ec::pairing::Pairing;
use ark_ec::{CurveGroup, PrimeGroup};
use ark_ff::PrimeField;
use ark_serialize::CanonicalSerialize;
use sha2::{Digest, Sha256};

use crate::drand::{PublicKey, Round, Signature};
use crate::error::TimelockError;

/// The randomness one encryption consumes; the caller draws it from the operating system.
#[derive(Clone, Debug)]
pub struct Randomness {
    /// Reduced modulo the group order into the scalar `t` that `σ` is derived from.
    pub scalar: [u8; 64],
    /// The AES-256 key sealed in the header.
    pub key: [u8; 32],
    /// The AES-GCM nonce.
    pub nonce: [u8; 12],
}

/// A message sealed until a drand round (see the module docs for the fields' meaning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ciphertext {
    pub(crate) u: G2Affine,
    pub(crate) v: [u8; 32],
    pub(crate) w: [u8; 32],
    /// AES-256-GCM output: the message's length plus a 16-byte tag.
    pub(crate) body: Vec<u8>,
    pub(crate) nonce: [u8; 12],
}

/// Seals `message` so that only `round`'s signature by the beacon with `key` opens it.
pub fn encrypt(
    key: &PublicKey,
    round: Round,
    message: &[u8],
    randomness: &Randomness,
) -> Ciphertext {
    let t = Fr::from_le_bytes_mod_order(&randomness.scalar);
    let sigma = sha256(&scalar_bytes(t));
    let r = h3(&sigma, &randomness.key);
    let u = (G2Projective::generator() * r).into_affine();
    let shared = Bls12_381::pairing(round.point(), (key.0 * r).into_affine());
    let v = xor(&sigma, &hash_gt(&shared.0));
    let w = xor(&randomness.key, &sha256(&sigma));
    let body = Aes256Gcm::new_from_slice(&randomness.key)
        .expect("a 32-byte key")
        .encrypt(Nonce::from_slice(&randomness.nonce), message)
        .expect("AES-GCM encrypts any message under 64 GiB");
    Ciphertext {
        u,
        v,
        w,
        body,
        nonce: randomness.nonce,
    }
}

/// Opens `ciphertext` with a round's beacon signature.
pub fn decrypt(ciphertext: &Ciphertext, signature: &Signature) -> Result<Vec<u8>, TimelockError> {
    let shared = Bls12_381::pairing(signature.0, ciphertext.u);
    let sigma = xor(&ciphertext.v, &hash_gt(&shared.0));
    let key = xor(&ciphertext.w, &sha256(&sigma));
    if (G2Projective::generator() * h3(&sigma, &key)).into_affine() != ciphertext.u {
        return Err(TimelockError::WrongRound);
    }
    Aes256Gcm::new_from_slice(&key)
        .expect("a 32-byte key")
        .decrypt(
            Nonce::from_slice(&ciphertext.nonce),
            ciphertext.body.as_slice(),
        )
        .map_err(|_| TimelockError::Tampered)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

fn scalar_bytes(s: Fr) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    s.serialize_compressed(&mut out)
        .expect("a scalar serializes");
    out
}

/// `r = sha256(σ ‖ k)` read big-endian, reduced modulo the group order.
fn h3(sigma: &[u8; 32], key: &[u8; 32]) -> Fr {
    let mut hasher = Sha256::new();
    hasher.update(sigma);
    hasher.update(key);
    Fr::from_be_bytes_mod_order(&hasher.finalize())
}

fn hash_gt(gt: &<Bls12_381 as Pairing>::TargetField) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(576);
    gt.serialize_compressed(&mut bytes).expect("GT serializes");
    sha256(&bytes)
}
