//! sr25519 keys with the conventions Bittensor uses, so a signature made here verifies in
//! `bittensor-wallet` and back: the mini secret expands in Ed25519 mode, the signing context
//! is `b"substrate"`, and addresses are SS58 with prefix 42.

use std::fmt;
use std::str::FromStr;

use blake2::{Blake2b512, Digest};
use schnorrkel::{ExpansionMode, MiniSecretKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::KeyError;

const SIGNING_CONTEXT: &[u8] = b"substrate";
/// The generic Substrate address prefix; Bittensor addresses start with `5`.
pub const SS58_PREFIX: u8 = 42;

/// A 32-byte sr25519 public key: a hotkey or coldkey as the chain sees it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub [u8; 32]);

impl AccountId {
    pub fn to_ss58(&self) -> String {
        let mut body = Vec::with_capacity(35);
        body.push(SS58_PREFIX);
        body.extend_from_slice(&self.0);
        let checksum = ss58_checksum(&body);
        body.extend_from_slice(&checksum[..2]);
        bs58::encode(body).into_string()
    }

    pub fn from_ss58(address: &str) -> Result<Self, KeyError> {
        let bad = |why: &str| KeyError::Address {
            address: address.to_string(),
            why: why.to_string(),
        };
        let bytes = bs58::decode(address)
            .into_vec()
            .map_err(|_| bad("not base58"))?;
        // One-byte prefixes only (0..=63): 1 + 32 + 2 bytes.
        if bytes.len() != 35 {
            return Err(bad("wrong length for an sr25519 account"));
        }
        if bytes[0] > 63 {
            return Err(bad("unsupported SS58 prefix"));
        }
        if ss58_checksum(&bytes[..33])[..2] != bytes[33..] {
            return Err(bad("checksum mismatch"));
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[1..33]);
        Ok(AccountId(key))
    }

    /// Parses `0x`-prefixed hex as written in wallet files.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let bytes = decode_hex(text)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Address {
            address: text.to_string(),
            why: "a public key is 32 bytes".into(),
        })?;
        Ok(AccountId(key))
    }

    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// Checks `signature` over `message` as made by this account.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), KeyError> {
        let public =
            schnorrkel::PublicKey::from_bytes(&self.0).map_err(|_| KeyError::BadSignature {
                signer: self.to_ss58(),
            })?;
        let signature = schnorrkel::Signature::from_bytes(&signature.0).map_err(|_| {
            KeyError::BadSignature {
                signer: self.to_ss58(),
            }
        })?;
        public
            .verify_simple(SIGNING_CONTEXT, message, &signature)
            .map_err(|_| KeyError::BadSignature {
                signer: self.to_ss58(),
            })
    }
}

fn ss58_checksum(body: &[u8]) -> [u8; 64] {
    let mut hasher = Blake2b512::new();
    hasher.update(b"SS58PRE");
    hasher.update(body);
    hasher.finalize().into()
}

pub(crate) fn decode_hex(text: &str) -> Result<Vec<u8>, KeyError> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).map_err(|_| KeyError::Hex(text.chars().take(16).collect()))
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_ss58())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.to_ss58())
    }
}

impl FromStr for AccountId {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        if s.starts_with("0x") {
            Self::from_hex(s)
        } else {
            Self::from_ss58(s)
        }
    }
}

impl Serialize for AccountId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_ss58())
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A 64-byte sr25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let bytes = decode_hex(text)?;
        let bytes: [u8; 64] = bytes
            .try_into()
            .map_err(|_| KeyError::Hex("a signature is 64 bytes".into()))?;
        Ok(Signature(bytes))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Signature::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// A secret sr25519 key that can sign. The 32-byte seed is kept so the key can be written back
/// to a wallet file exactly as `bittensor-wallet` writes it.
#[derive(Clone)]
pub struct Keypair {
    seed: Zeroizing<[u8; 32]>,
    inner: schnorrkel::Keypair,
}

impl Keypair {
    /// The keypair of a 32-byte mini secret (a wallet's `secretSeed`).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        // Infallible for 32 bytes; the error path is kept only for the type.
        let mini = MiniSecretKey::from_bytes(seed).expect("a mini secret is any 32 bytes");
        Keypair {
            seed: Zeroizing::new(*seed),
            inner: mini.expand_to_keypair(ExpansionMode::Ed25519),
        }
    }

    /// The keypair of a BIP-39 phrase, derived as Substrate does (empty password).
    pub fn from_phrase(phrase: &str) -> Result<Self, KeyError> {
        let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, phrase)
            .map_err(|e| KeyError::Mnemonic(e.to_string()))?;
        let entropy = Zeroizing::new(mnemonic.to_entropy());
        let mini = substrate_bip39::mini_secret_from_entropy(&entropy, "")
            .map_err(|e| KeyError::Mnemonic(format!("{e:?}")))?;
        Ok(Self::from_seed(&mini.to_bytes()))
    }

    /// The keypair of a secret URI as Substrate writes it: a phrase (or nothing, for the dev
    /// phrase behind `//Alice`) followed by hard junctions, `//Alice` or `PHRASE//hot//0`.
    /// Soft junctions (`/x`) and passwords (`///pw`) are refused: no wallet of ours uses them.
    pub fn from_uri(uri: &str) -> Result<Self, KeyError> {
        const DEV_PHRASE: &str =
            "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
        let (phrase, path) = match uri.find('/') {
            Some(at) => (uri[..at].trim(), &uri[at..]),
            None => (uri.trim(), ""),
        };
        let phrase = if phrase.is_empty() {
            DEV_PHRASE
        } else {
            phrase
        };
        let mut pair = Self::from_phrase(phrase)?;
        if path.is_empty() {
            return Ok(pair);
        }
        let bad = |why: &str| KeyError::Mnemonic(format!("secret URI path {path:?}: {why}"));
        let Some(rest) = path.strip_prefix("//") else {
            return Err(bad("only hard junctions (//name) are supported"));
        };
        for junction in rest.split("//") {
            if junction.is_empty() || junction.contains('/') {
                return Err(bad(
                    "only hard junctions (//name), no soft ones or passwords",
                ));
            }
            let (mini, _) = pair
                .inner
                .secret
                .hard_derive_mini_secret_key(Some(chain_code(junction)), b"");
            pair = Self::from_seed(&mini.to_bytes());
        }
        Ok(pair)
    }

    /// A fresh random key and the 12-word phrase that recreates it.
    pub fn generate() -> Result<(Self, Zeroizing<String>), KeyError> {
        let mut entropy = Zeroizing::new([0u8; 16]);
        getrandom::fill(entropy.as_mut()).map_err(|e| KeyError::Random(e.to_string()))?;
        let mnemonic = bip39::Mnemonic::from_entropy(entropy.as_ref())
            .map_err(|e| KeyError::Mnemonic(e.to_string()))?;
        let phrase = Zeroizing::new(mnemonic.to_string());
        Ok((Self::from_phrase(&phrase)?, phrase))
    }

    /// A key for tests and devnets, derived from a label: never use it for real funds.
    pub fn dev(label: &str) -> Self {
        Self::from_seed(blake3::hash(format!("gradient dev key {label}").as_bytes()).as_bytes())
    }

    pub fn account(&self) -> AccountId {
        AccountId(self.inner.public.to_bytes())
    }

    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// `SecretKey::to_bytes()`: the 64 bytes wallet files call `privateKey`.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 64]> {
        Zeroizing::new(self.inner.secret.to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.inner.sign_simple(SIGNING_CONTEXT, message).to_bytes())
    }
}

/// A junction's chain code as Substrate makes it: a number as u64 little-endian, anything else
/// SCALE-encoded as a string; zero-padded to 32 bytes, or hashed (blake2b-256) when longer.
fn chain_code(junction: &str) -> schnorrkel::derive::ChainCode {
    let encoded = match junction.parse::<u64>() {
        Ok(n) => n.to_le_bytes().to_vec(),
        Err(_) => {
            let bytes = junction.as_bytes();
            let mut out = compact_len(bytes.len());
            out.extend_from_slice(bytes);
            out
        }
    };
    let mut code = [0u8; 32];
    if encoded.len() > 32 {
        let mut hasher = blake2::Blake2b::<blake2::digest::consts::U32>::new();
        hasher.update(&encoded);
        code.copy_from_slice(&hasher.finalize());
    } else {
        code[..encoded.len()].copy_from_slice(&encoded);
    }
    schnorrkel::derive::ChainCode(code)
}

/// SCALE's compact encoding of a length (the lengths of junction names fit its first three
/// modes).
fn compact_len(n: usize) -> Vec<u8> {
    match n {
        0..=63 => vec![(n as u8) << 2],
        64..=16383 => (((n as u16) << 2) | 1).to_le_bytes().to_vec(),
        _ => (((n as u32) << 2) | 2).to_le_bytes().to_vec(),
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.account())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ss58_round_trip_and_checksum() {
        let key = Keypair::dev("alice").account();
        let address = key.to_ss58();
        assert!(address.starts_with('5'));
        assert_eq!(AccountId::from_ss58(&address).unwrap(), key);
        // Flip one character: the checksum must catch it.
        let mut chars: Vec<char> = address.chars().collect();
        chars[10] = if chars[10] == 'a' { 'b' } else { 'a' };
        let tampered: String = chars.into_iter().collect();
        assert!(AccountId::from_ss58(&tampered).is_err());
    }

    #[test]
    fn known_substrate_dev_address() {
        // Alice's well-known public key and address on prefix 42.
        let alice = AccountId::from_hex(
            "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d",
        )
        .unwrap();
        assert_eq!(
            alice.to_ss58(),
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
        );
    }

    #[test]
    fn phrase_derivation_matches_substrate() {
        // The phrase behind Substrate's `//Alice` root ("bottom drive obey ..." dev phrase).
        let pair = Keypair::from_phrase(
            "bottom drive obey lake curtain smoke basket hold race lonely fit walk",
        )
        .unwrap();
        assert_eq!(
            pair.account().to_ss58(),
            "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV"
        );
    }

    #[test]
    fn secret_uris_derive_as_substrate_does() {
        // The dev accounts' addresses, as every Substrate tool prints them.
        let alice = Keypair::from_uri("//Alice").unwrap();
        assert_eq!(
            alice.account().to_ss58(),
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
        );
        assert_eq!(
            Keypair::from_uri("//Bob").unwrap().account().to_ss58(),
            "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
        );
        let phrase = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
        assert_eq!(
            Keypair::from_uri(&format!("{phrase}//Alice"))
                .unwrap()
                .account(),
            alice.account()
        );
        assert_eq!(
            Keypair::from_uri(phrase).unwrap().account(),
            Keypair::from_phrase(phrase).unwrap().account()
        );
        for bad in ["//Alice/soft", "/soft", "//Alice///password", "//"] {
            assert!(Keypair::from_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signatures_verify_and_reject_tampering() {
        let pair = Keypair::dev("bob");
        let signature = pair.sign(b"window 7");
        pair.account().verify(b"window 7", &signature).unwrap();
        assert!(pair.account().verify(b"window 8", &signature).is_err());
        assert!(
            Keypair::dev("eve")
                .account()
                .verify(b"window 7", &signature)
                .is_err()
        );
    }
}
