//! Our sr25519 [`Keypair`] as subxt's signer: the same key and signing context (`substrate`)
//! as `bittensor-wallet`, so a btcli wallet signs here without its secret leaving this crate.

use crate::config::ChainConfig;
use gradient_chain::Keypair;
use subxt::utils::{AccountId32, MultiSignature};

pub struct Signer<'a>(pub &'a Keypair);

impl subxt::tx::Signer<ChainConfig> for Signer<'_> {
    fn account_id(&self) -> AccountId32 {
        AccountId32(self.0.account().0)
    }

    fn sign(&self, signer_payload: &[u8]) -> MultiSignature {
        MultiSignature::Sr25519(self.0.sign(signer_payload).0)
    }
}
