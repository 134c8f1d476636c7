//! Object storage for Gradient.
//!
//! - [`Location`]: `file:///path` or `s3://bucket/prefix` (credentials as the AWS tools read
//!   them); [`Store`] opens one and moves bytes with bounded, parallel, retried transfers.
//! - [`envelope`]: every published object is a signed [`Header`] and a payload; readers check
//!   the size, the signature and the hash before parsing anything.
//! - [`layout`]: where a run's objects live. [`commitment`]: what a miner publishes on chain so
//!   validators can read its bucket.
//!
//! ```no_run
//! # async fn demo() -> Result<(), gradient_store::StoreError> {
//! use gradient_store::{Expect, Kind, Location, S3Credentials, Store, StoreConfig};
//! let location = Location::parse("file:///tmp/bucket", &S3Credentials::from_env())?;
//! let store = Store::open(&location, StoreConfig::default())?;
//! let key = gradient_identity::Keypair::dev("miner");
//! let payload = bytes::Bytes::from_static(b"delta");
//! store.put_envelope("w/1", &key, Kind::Submission, [0; 32], 1, [0; 32], payload, true).await?;
//! let opened = store.get_envelope("w/1", &Expect { signer: Some(key.account()), ..Default::default() }, 1 << 20).await?;
//! assert_eq!(&opened.payload[..], b"delta");
//! # Ok(()) }
//! ```
pub mod commitment;
pub mod envelope;
pub mod error;
pub mod layout;
pub mod location;
pub mod reach;
pub mod store;

pub use commitment::BucketCommitment;
pub use envelope::{Expect, HEADER_LEN, Hash, Header, Kind};
pub use error::{EnvelopeError, StoreError};
pub use location::{Location, S3Credentials};
pub use reach::Reach;
pub use store::{Listed, Opened, Store, StoreConfig};
