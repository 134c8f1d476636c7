//! The `$NACL` coldkey encryption of `bittensor-wallet`: `$NACL`, a 24-byte nonce, then an
//! XSalsa20-Poly1305 secretbox whose key is Argon2i (libsodium's "sensitive" limits) of the
//! password under a fixed salt.

use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
use zeroize::Zeroizing;

use crate::error::WalletError;

pub const MAGIC: &[u8] = b"$NACL";
const SALT: [u8; 16] = [
    0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1,
];
const NONCE_LEN: usize = 24;
/// libsodium `OPSLIMIT_SENSITIVE` and `MEMLIMIT_SENSITIVE` (512 MiB, in KiB for argon2).
const OPS_LIMIT: u32 = 8;
const MEM_LIMIT_KIB: u32 = 512 * 1024;

fn derive_key(password: &str) -> Result<Zeroizing<[u8; 32]>, WalletError> {
    let params = Params::new(MEM_LIMIT_KIB, OPS_LIMIT, 1, Some(32))
        .map_err(|e| WalletError::Kdf(e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), &SALT, key.as_mut())
        .map_err(|e| WalletError::Kdf(e.to_string()))?;
    Ok(key)
}

pub fn encrypt(plain: &[u8], password: &str) -> Result<Vec<u8>, WalletError> {
    let key = derive_key(password)?;
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| WalletError::Kdf(e.to_string()))?;
    let cipher = XSalsa20Poly1305::new(key.as_ref().into());
    let sealed = cipher
        .encrypt(&nonce.into(), plain)
        .map_err(|_| WalletError::Kdf("encryption failed".into()))?;
    let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

pub fn decrypt(
    path: &Path,
    file: &[u8],
    password: &str,
) -> Result<Zeroizing<Vec<u8>>, WalletError> {
    let body = &file[MAGIC.len()..];
    if body.len() < NONCE_LEN + 16 {
        return Err(WalletError::Malformed {
            path: path.to_path_buf(),
            why: "encrypted coldkey is truncated".into(),
        });
    }
    let (nonce, sealed) = body.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at the nonce length");
    let key = derive_key(password)?;
    let cipher = XSalsa20Poly1305::new(key.as_ref().into());
    cipher
        .decrypt(&nonce.into(), sealed)
        .map(Zeroizing::new)
        .map_err(|_| WalletError::WrongPassword {
            path: path.to_path_buf(),
        })
}
