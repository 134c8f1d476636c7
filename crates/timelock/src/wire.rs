//! The ciphertext's bytes: arkworks' compressed serialization of `tle`'s `TLECiphertext`, which
//! subtensor reads from a timelocked weight commit. Lengths are u64 little-endian; `n` is the
//! message's length plus 16.
//!
//! | offset  | bytes | field                                          |
//! |---------|-------|------------------------------------------------|
//! | 0       | 96    | `U`, a compressed G2 point                     |
//! | 96      | 8     | 32, then `V` (32 bytes) at 104                 |
//! | 136     | 8     | 32, then `W` (32 bytes) at 144                 |
//! | 176     | 8     | `n + 28`, the body's length                    |
//! | 184     | 8     | `n`, then the AES-GCM output (n bytes) at 192  |
//! | 192 + n | 8     | 12, then the nonce (12 bytes)                  |
//! | 212 + n | 8     | 8, then the cipher suite `AES_GCM_`            |
//!
//! Reading checks every length against the bytes left and the point against the curve and its
//! subgroup, and refuses trailing bytes, before anything is used.

use ark_bls12_381::G2Affine;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};

use crate::error::{TimelockError, malformed};
use crate::tlock::Ciphertext;

const SUITE: &[u8] = b"AES_GCM_";
const FIXED: usize = 228;

impl Ciphertext {
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.body.len();
        let mut out = Vec::with_capacity(FIXED + n);
        self.u
            .serialize_compressed(&mut out)
            .expect("a G2 point serializes");
        field(&mut out, &self.v);
        field(&mut out, &self.w);
        out.extend_from_slice(&((n + 28) as u64).to_le_bytes());
        field(&mut out, &self.body);
        field(&mut out, &self.nonce);
        field(&mut out, SUITE);
        out
    }

    /// Reads a ciphertext of at most `max_len` bytes.
    pub fn from_bytes(bytes: &[u8], max_len: usize) -> Result<Ciphertext, TimelockError> {
        if bytes.len() > max_len {
            return Err(bad(format!(
                "{} bytes, more than the {max_len} allowed",
                bytes.len()
            )));
        }
        let mut r = Reader { bytes, at: 0 };
        let u = G2Affine::deserialize_compressed(r.take(96)?)
            .map_err(|e| bad(format!("U is not a G2 point: {e}")))?;
        let v = r.exact::<32>("V")?;
        let w = r.exact::<32>("W")?;
        let body_len = r.len()?;
        let body_start = r.at;
        let body = r.field("the AES-GCM output")?.to_vec();
        let nonce = r.exact::<12>("the nonce")?;
        if r.at - body_start != body_len {
            return Err(bad(format!(
                "the body says {body_len} bytes but holds {}",
                r.at - body_start
            )));
        }
        if body.len() < 16 {
            return Err(bad(format!(
                "{} bytes of AES-GCM output, less than its tag",
                body.len()
            )));
        }
        let suite = r.field("the cipher suite")?;
        if suite != SUITE {
            return Err(bad(format!(
                "cipher suite {:?}, expected AES_GCM_",
                String::from_utf8_lossy(suite)
            )));
        }
        if r.at != bytes.len() {
            return Err(bad(format!(
                "{} bytes after the cipher suite",
                bytes.len() - r.at
            )));
        }
        Ok(Ciphertext {
            u,
            v,
            w,
            body,
            nonce,
        })
    }
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn bad(why: String) -> TimelockError {
    malformed("ciphertext", why)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TimelockError> {
        let left = self.bytes.len() - self.at;
        if n > left {
            return Err(bad(format!(
                "needs {n} bytes at offset {}, {left} left",
                self.at
            )));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn len(&mut self) -> Result<usize, TimelockError> {
        let raw = u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
        usize::try_from(raw)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.at)
            .ok_or_else(|| {
                bad(format!(
                    "length {raw} at offset {} runs past the end",
                    self.at - 8
                ))
            })
    }

    fn field(&mut self, what: &str) -> Result<&'a [u8], TimelockError> {
        let n = self.len()?;
        self.take(n)
            .map_err(|_| bad(format!("{what} is cut short")))
    }

    fn exact<const N: usize>(&mut self, what: &str) -> Result<[u8; N], TimelockError> {
        let bytes = self.field(what)?;
        bytes
            .try_into()
            .map_err(|_| bad(format!("{what} has {} bytes, expected {N}", bytes.len())))
    }
}
