//! Envelopes: every object a node publishes is a fixed header, the publisher's signature over
//! it, then the payload. A reader learns from the first 224 bytes who signed what for which run,
//! window and master, and how long the payload must be, before it downloads or parses anything.
//!
//! ```text
//! offset size
//!      0    8  magic "GRADENV\0"
//!      8    2  format version (1), little-endian
//!     10    1  kind
//!     11    1  reserved, zero
//!     12    4  header length (224)
//!     16   32  run id
//!     48    8  window
//!     56   32  hash of the master it builds on
//!     88   32  signer (sr25519 public key)
//!    120    8  payload length
//!    128   32  payload blake3
//!    160   64  signature over bytes 0..160 (context "gradient-envelope-v1:")
//!    224       payload
//! ```

use gradient_identity::{AccountId, Keypair, Signature};

use crate::error::EnvelopeError;

pub const MAGIC: &[u8; 8] = b"GRADENV\0";
pub const VERSION: u16 = 1;
const SIGNED_LEN: usize = 160;
/// Bytes before the payload.
pub const HEADER_LEN: usize = SIGNED_LEN + 64;

/// What an object is, so one kind can never be taken for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    RunConfig = 1,
    Master = 2,
    Submission = 3,
    Aggregate = 4,
    ValidatorState = 5,
    Commitment = 6,
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            1 => Kind::RunConfig,
            2 => Kind::Master,
            3 => Kind::Submission,
            4 => Kind::Aggregate,
            5 => Kind::ValidatorState,
            6 => Kind::Commitment,
            _ => return None,
        })
    }
}

/// A 32-byte blake3 digest.
pub type Hash = [u8; 32];

/// The signed facts about a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub run: Hash,
    pub window: u64,
    pub base: Hash,
    pub signer: AccountId,
    pub payload_len: u64,
    pub payload_hash: Hash,
}

/// What a reader requires of an envelope; `None` accepts any value.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub kind: Option<Kind>,
    pub run: Option<Hash>,
    pub window: Option<u64>,
    pub base: Option<Hash>,
    pub signer: Option<AccountId>,
}

impl Header {
    /// Header and signature for `payload`, as the object's first [`HEADER_LEN`] bytes.
    pub fn seal(
        signer: &Keypair,
        kind: Kind,
        run: Hash,
        window: u64,
        base: Hash,
        payload: &[u8],
    ) -> (Header, Vec<u8>) {
        let header = Header {
            kind,
            run,
            window,
            base,
            signer: signer.account(),
            payload_len: payload.len() as u64,
            payload_hash: *blake3::hash(payload).as_bytes(),
        };
        let mut bytes = header.signed_bytes();
        let signature = signer.sign(&signing_message(&bytes));
        bytes.extend_from_slice(&signature.0);
        (header, bytes)
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_LEN);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.push(self.kind as u8);
        b.push(0);
        b.extend_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        b.extend_from_slice(&self.run);
        b.extend_from_slice(&self.window.to_le_bytes());
        b.extend_from_slice(&self.base);
        b.extend_from_slice(&self.signer.0);
        b.extend_from_slice(&self.payload_len.to_le_bytes());
        b.extend_from_slice(&self.payload_hash);
        debug_assert_eq!(b.len(), SIGNED_LEN);
        b
    }

    /// Parses and verifies a header: format, signature, then every expectation.
    pub fn open(bytes: &[u8], expect: &Expect) -> Result<Header, EnvelopeError> {
        if bytes.len() < HEADER_LEN {
            return Err(EnvelopeError::Truncated {
                got: bytes.len() as u64,
                need: HEADER_LEN as u64,
            });
        }
        if &bytes[..8] != MAGIC {
            return Err(EnvelopeError::NotAnEnvelope);
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != VERSION {
            return Err(EnvelopeError::Version(version));
        }
        let header_len = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes"));
        if header_len as usize != HEADER_LEN || bytes[11] != 0 {
            return Err(EnvelopeError::Malformed(
                "header length or reserved byte".into(),
            ));
        }
        let kind = Kind::from_byte(bytes[10])
            .ok_or_else(|| EnvelopeError::Malformed(format!("unknown kind {}", bytes[10])))?;
        let array = |range: std::ops::Range<usize>| -> [u8; 32] {
            bytes[range].try_into().expect("32 bytes")
        };
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let header = Header {
            kind,
            run: array(16..48),
            window: u64_at(48),
            base: array(56..88),
            signer: AccountId(array(88..120)),
            payload_len: u64_at(120),
            payload_hash: array(128..160),
        };
        let signature = Signature(bytes[SIGNED_LEN..HEADER_LEN].try_into().expect("64 bytes"));
        header
            .signer
            .verify(&signing_message(&bytes[..SIGNED_LEN]), &signature)
            .map_err(|_| EnvelopeError::BadSignature(header.signer.to_ss58()))?;
        header.check(expect)?;
        Ok(header)
    }

    fn check(&self, expect: &Expect) -> Result<(), EnvelopeError> {
        let mismatch = |what: &str, want: String, got: String| {
            Err(EnvelopeError::Mismatch {
                what: what.to_string(),
                want,
                got,
            })
        };
        if let Some(kind) = expect.kind
            && kind != self.kind
        {
            return mismatch("kind", format!("{kind:?}"), format!("{:?}", self.kind));
        }
        if let Some(signer) = expect.signer
            && signer != self.signer
        {
            return mismatch("signer", signer.to_ss58(), self.signer.to_ss58());
        }
        if let Some(run) = expect.run
            && run != self.run
        {
            return mismatch("run", hex::encode(run), hex::encode(self.run));
        }
        if let Some(window) = expect.window
            && window != self.window
        {
            return mismatch("window", window.to_string(), self.window.to_string());
        }
        if let Some(base) = expect.base
            && base != self.base
        {
            return mismatch("base master", hex::encode(base), hex::encode(self.base));
        }
        Ok(())
    }

    /// The whole object's size.
    pub fn object_len(&self) -> u64 {
        HEADER_LEN as u64 + self.payload_len
    }

    /// Checks a downloaded payload against the signed length and hash.
    pub fn check_payload(&self, payload: &[u8]) -> Result<(), EnvelopeError> {
        if payload.len() as u64 != self.payload_len {
            return Err(EnvelopeError::Truncated {
                got: HEADER_LEN as u64 + payload.len() as u64,
                need: self.object_len(),
            });
        }
        if blake3::hash(payload).as_bytes() != &self.payload_hash {
            return Err(EnvelopeError::PayloadHash);
        }
        Ok(())
    }
}

fn signing_message(signed: &[u8]) -> Vec<u8> {
    let mut message = b"gradient-envelope-v1:".to_vec();
    message.extend_from_slice(signed);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed() -> (Keypair, Vec<u8>) {
        let key = Keypair::dev("miner");
        let (_, mut bytes) = Header::seal(&key, Kind::Submission, [1; 32], 7, [2; 32], b"delta");
        bytes.extend_from_slice(b"delta");
        (key, bytes)
    }

    #[test]
    fn sealed_envelopes_open_with_matching_expectations() {
        let (key, bytes) = sealed();
        let expect = Expect {
            kind: Some(Kind::Submission),
            run: Some([1; 32]),
            window: Some(7),
            base: Some([2; 32]),
            signer: Some(key.account()),
        };
        let header = Header::open(&bytes, &expect).unwrap();
        assert_eq!(header.payload_len, 5);
        header.check_payload(&bytes[HEADER_LEN..]).unwrap();
        assert!(matches!(
            header.check_payload(b"delt"),
            Err(EnvelopeError::Truncated { .. })
        ));
        assert!(matches!(
            header.check_payload(b"DELTA"),
            Err(EnvelopeError::PayloadHash)
        ));
    }

    #[test]
    fn every_field_is_covered_by_the_signature_or_checked() {
        let (key, bytes) = sealed();
        // Flipping any signed byte, or the signature, breaks verification (or the format).
        for at in (0..HEADER_LEN).step_by(7) {
            let mut tampered = bytes.clone();
            tampered[at] ^= 0x40;
            assert!(
                Header::open(&tampered, &Expect::default()).is_err(),
                "byte {at}"
            );
        }
        let wrong = |expect: Expect| Header::open(&bytes, &expect).unwrap_err().to_string();
        assert!(
            wrong(Expect {
                window: Some(8),
                ..Default::default()
            })
            .contains("window")
        );
        assert!(
            wrong(Expect {
                kind: Some(Kind::Master),
                ..Default::default()
            })
            .contains("kind")
        );
        let other = Keypair::dev("other").account();
        let err = wrong(Expect {
            signer: Some(other),
            ..Default::default()
        });
        assert!(
            err.contains(&key.account().to_ss58()) && err.contains("signer"),
            "{err}"
        );
        assert!(matches!(
            Header::open(&bytes[..100], &Expect::default()),
            Err(EnvelopeError::Truncated { .. })
        ));
        assert!(matches!(
            Header::open(&[0u8; HEADER_LEN], &Expect::default()),
            Err(EnvelopeError::NotAnEnvelope)
        ));
    }
}
