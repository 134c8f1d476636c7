//! drand quicknet timelock encryption, written for subtensor's commit-reveal of weights.
//!
//! A validator on a subnet with commit-reveal seals its weights to a future drand round with
//! [`encrypt`]; the chain opens the [`Ciphertext`] itself with that [`Round`]'s beacon
//! [`Signature`] once the pulse arrives ([`decrypt`]), so nobody, the validator included,
//! can read or change the weights before then. [`PublicKey::quicknet`] is the beacon's key;
//! [`Signature::verifies`] checks a pulse. The bytes ([`Ciphertext::to_bytes`]) are those of
//! the `tle` scheme subtensor pins (see `tlock` and `wire` for the construction and layout).
//! Pure: randomness comes in as [`Randomness`], no clock, no I/O.
//!
//! ```
//! use gradient_timelock::{PublicKey, Randomness, Round, Signature, decrypt, encrypt};
//!
//! let round = Round(1000);
//! let randomness = Randomness { scalar: [7; 64], key: [9; 32], nonce: [3; 12] };
//! let sealed = encrypt(&PublicKey::quicknet(), round, b"weights", &randomness);
//! // Quicknet's signature of round 1000, published at its time.
//! let pulse = Signature::from_hex("b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39")?;
//! assert_eq!(decrypt(&sealed, &pulse)?, b"weights");
//! # Ok::<(), gradient_timelock::TimelockError>(())
//! ```

mod drand;
mod error;
mod tlock;
mod wire;

pub use drand::{
    PublicKey, QUICKNET_GENESIS, QUICKNET_PERIOD, QUICKNET_PUBLIC_KEY, Round, Signature,
};
pub use error::TimelockError;
pub use tlock::{Ciphertext, Randomness, decrypt, encrypt};
