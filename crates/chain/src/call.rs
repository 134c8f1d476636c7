//! State-changing calls. Each is signed by the hotkey it acts for over the exact payload bytes,
//! names the chain it is meant for, and carries a nonce above the hotkey's last, so a call
//! cannot be forged, sent to another chain, or replayed.

use serde::{Deserialize, Serialize};

use crate::error::ChainError;
use crate::keys::{AccountId, Keypair, Signature};
use crate::types::{MAX_COMMITMENT, Uid, hex_bytes};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Call {
    /// Register the signing hotkey under `coldkey`; answers the uid it already has if any.
    Register { coldkey: AccountId },
    /// Replace the signer's weights row. Weights are u16 as subtensor takes them.
    SetWeights {
        uids: Vec<Uid>,
        weights: Vec<u16>,
        version_key: u64,
    },
    /// Publish up to 128 raw bytes under the signer's hotkey.
    Commit {
        #[serde(with = "hex_bytes")]
        data: Vec<u8>,
    },
}

/// What is signed: the call with who, where and which nonce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallPayload {
    /// The chain's id (its genesis hash), so a call for one chain is refused by another.
    pub chain: String,
    pub hotkey: AccountId,
    pub nonce: u64,
    #[serde(flatten)]
    pub call: Call,
}

/// A payload and the signature over its exact bytes, as sent over the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedCall {
    pub hotkey: AccountId,
    /// The JSON payload; the signature covers these bytes, which are parsed only once verified.
    pub payload: String,
    pub signature: Signature,
}

/// The largest signed call a chain reads: 256 weights fit many times over.
pub const MAX_CALL_BYTES: usize = 64 * 1024;

impl SignedCall {
    pub fn sign(signer: &Keypair, chain: &str, nonce: u64, call: Call) -> Self {
        let payload = CallPayload {
            chain: chain.to_string(),
            hotkey: signer.account(),
            nonce,
            call,
        };
        let payload = serde_json::to_string(&payload).expect("a call always serialises");
        let signature = signer.sign(&signing_bytes(&payload));
        SignedCall {
            hotkey: signer.account(),
            payload,
            signature,
        }
    }

    /// Verifies the signature, then parses and checks the payload is for `chain`.
    pub fn open(&self, chain: &str) -> Result<CallPayload, ChainError> {
        if self.payload.len() > MAX_CALL_BYTES {
            return Err(ChainError::Malformed(format!(
                "payload of {} bytes is over {MAX_CALL_BYTES}",
                self.payload.len()
            )));
        }
        self.hotkey
            .verify(&signing_bytes(&self.payload), &self.signature)
            .map_err(|_| ChainError::BadSignature(self.hotkey.to_ss58()))?;
        let payload: CallPayload = serde_json::from_str(&self.payload)
            .map_err(|e| ChainError::Malformed(e.to_string()))?;
        if payload.hotkey != self.hotkey {
            return Err(ChainError::Malformed(
                "payload hotkey differs from the signer".into(),
            ));
        }
        if payload.chain != chain {
            return Err(ChainError::WrongChain {
                got: payload.chain,
                want: chain.to_string(),
            });
        }
        if let Call::Commit { data } = &payload.call
            && data.len() > MAX_COMMITMENT
        {
            return Err(ChainError::CommitmentTooLarge(data.len()));
        }
        Ok(payload)
    }
}

/// Domain-separates call signatures from every other thing a hotkey signs.
fn signing_bytes(payload: &str) -> Vec<u8> {
    let mut bytes = b"gradient-chain-call-v1:".to_vec();
    bytes.extend_from_slice(payload.as_bytes());
    bytes
}

/// Turns float weights into the u16 weights a chain takes, scaled so the largest is 65535, as
/// bittensor's `convert_weights_and_uids_for_emit` does. Zero weights are dropped.
pub fn weights_to_u16(uids: &[Uid], weights: &[f32]) -> Result<(Vec<Uid>, Vec<u16>), ChainError> {
    if uids.len() != weights.len() {
        return Err(ChainError::InvalidWeights(format!(
            "{} uids but {} weights",
            uids.len(),
            weights.len()
        )));
    }
    if let Some(bad) = weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
        return Err(ChainError::InvalidWeights(format!(
            "weight {bad} is not a finite non-negative number"
        )));
    }
    let max = weights.iter().copied().fold(0.0f32, f32::max);
    if max == 0.0 {
        return Err(ChainError::InvalidWeights(
            "every weight is zero; send at least one positive weight".into(),
        ));
    }
    let mut out_uids = Vec::new();
    let mut out = Vec::new();
    for (&uid, &w) in uids.iter().zip(weights) {
        let scaled = ((w as f64 / max as f64) * 65535.0).round() as u16;
        if scaled > 0 {
            out_uids.push(uid);
            out.push(scaled);
        }
    }
    Ok((out_uids, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_calls_open_only_unchanged_on_their_chain() {
        let key = Keypair::dev("v");
        let call = SignedCall::sign(&key, "chain-a", 7, Call::Commit { data: vec![1, 2] });
        let payload = call.open("chain-a").unwrap();
        assert_eq!(payload.nonce, 7);
        assert!(matches!(
            call.open("chain-b"),
            Err(ChainError::WrongChain { .. })
        ));

        let mut tampered = call.clone();
        tampered.payload = tampered.payload.replace("\"nonce\":7", "\"nonce\":8");
        assert!(matches!(
            tampered.open("chain-a"),
            Err(ChainError::BadSignature(_))
        ));

        let mut stolen = call;
        stolen.hotkey = Keypair::dev("eve").account();
        assert!(matches!(
            stolen.open("chain-a"),
            Err(ChainError::BadSignature(_))
        ));
    }

    #[test]
    fn float_weights_convert_like_bittensor() {
        let (uids, w) = weights_to_u16(&[0, 1, 2], &[0.5, 1.0, 0.0]).unwrap();
        assert_eq!(uids, vec![0, 1]);
        assert_eq!(w, vec![32768, 65535]);
        for bad in [
            weights_to_u16(&[0], &[f32::NAN]),
            weights_to_u16(&[0], &[-1.0]),
            weights_to_u16(&[0], &[f32::INFINITY]),
            weights_to_u16(&[0, 1], &[1.0]),
            weights_to_u16(&[0], &[0.0]),
        ] {
            assert!(matches!(bad, Err(ChainError::InvalidWeights(_))));
        }
    }
}
