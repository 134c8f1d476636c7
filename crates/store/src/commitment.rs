//! What a miner commits on chain so validators can read its bucket: at most 128 bytes (the
//! chain's limit), binary, with a tag byte first.
//!
//! - `0x01` file: an absolute path (devnets on one machine).
//! - `0x02` S3: endpoint, region, bucket, prefix, access key id, secret, each as u8 length +
//!   bytes (an empty endpoint means AWS).
//! - `0x03` Cloudflare R2, packed: account id (16 bytes), access key id (16), secret (32), then
//!   bucket and prefix as u8 length + bytes.
//! - `0x04` pointer: the blake3 of a full commitment and the public http(s) URL where it lies,
//!   for credentials too long to fit.
//!
//! The key committed is public to everyone: it must be a read-only key.

use std::time::Duration;

use object_store::ObjectStoreExt;

use crate::error::StoreError;
use crate::location::{Location, S3Credentials};

pub const MAX_COMMITMENT: usize = 128;
/// A pointed-to commitment is small; anything larger is refused unread.
const MAX_POINTED: u64 = 4096;

#[derive(Clone, PartialEq, Eq)]
pub enum BucketCommitment {
    File {
        path: String,
    },
    S3 {
        endpoint: String,
        region: String,
        bucket: String,
        prefix: String,
        access_key_id: String,
        secret_access_key: String,
    },
    Pointer {
        hash: [u8; 32],
        url: String,
    },
}

impl std::fmt::Debug for BucketCommitment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BucketCommitment::File { path } => write!(f, "File({path})"),
            BucketCommitment::S3 {
                endpoint,
                bucket,
                prefix,
                access_key_id,
                ..
            } => write!(f, "S3({endpoint} {bucket}/{prefix} key {access_key_id})"),
            BucketCommitment::Pointer { url, .. } => write!(f, "Pointer({url})"),
        }
    }
}

fn r2_account(endpoint: &str) -> Option<[u8; 16]> {
    let host = endpoint.strip_prefix("https://")?;
    let account = host.strip_suffix(".r2.cloudflarestorage.com")?;
    hex16(account)
}

fn hex16(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 || text.chars().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    hex::decode(text).ok()?.try_into().ok()
}

fn bad(why: impl Into<String>) -> StoreError {
    StoreError::Commitment(why.into())
}

impl BucketCommitment {
    /// The commitment of a location with the read credentials given.
    pub fn of(location: &Location, read: &S3Credentials) -> Result<Self, StoreError> {
        Ok(match location {
            Location::File { root } => BucketCommitment::File {
                path: root.to_string_lossy().into_owned(),
            },
            Location::S3 { bucket, prefix, .. } => BucketCommitment::S3 {
                endpoint: read.endpoint.clone().unwrap_or_default(),
                region: read.region.clone().unwrap_or_default(),
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                access_key_id: read.access_key_id.clone().ok_or_else(|| {
                    bad("a read-only access key id is needed to commit an S3 bucket")
                })?,
                secret_access_key: read
                    .secret_access_key
                    .clone()
                    .ok_or_else(|| bad("a read-only secret is needed to commit an S3 bucket"))?,
            },
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        let field = |out: &mut Vec<u8>, text: &str| -> Result<(), StoreError> {
            let len = u8::try_from(text.len()).map_err(|_| bad("a field is over 255 bytes"))?;
            out.push(len);
            out.extend_from_slice(text.as_bytes());
            Ok(())
        };
        match self {
            BucketCommitment::File { path } => {
                out.push(1);
                out.extend_from_slice(path.as_bytes());
            }
            BucketCommitment::S3 {
                endpoint,
                region,
                bucket,
                prefix,
                access_key_id,
                secret_access_key,
            } => {
                let packed = (
                    r2_account(endpoint),
                    hex16(access_key_id),
                    hex::decode(secret_access_key)
                        .ok()
                        .filter(|s| s.len() == 32),
                );
                if let (Some(account), Some(key), Some(secret)) = packed
                    && (region == "auto" || region.is_empty())
                    && secret_access_key.chars().all(|c| !c.is_ascii_uppercase())
                {
                    out.push(3);
                    out.extend_from_slice(&account);
                    out.extend_from_slice(&key);
                    out.extend_from_slice(&secret);
                    field(&mut out, bucket)?;
                    field(&mut out, prefix)?;
                } else {
                    out.push(2);
                    for text in [
                        endpoint,
                        region,
                        bucket,
                        prefix,
                        access_key_id,
                        secret_access_key,
                    ] {
                        field(&mut out, text)?;
                    }
                }
            }
            BucketCommitment::Pointer { hash, url } => {
                out.push(4);
                out.extend_from_slice(hash);
                field(&mut out, url)?;
            }
        }
        if out.len() > MAX_COMMITMENT {
            return Err(bad(format!(
                "{} bytes is over the chain's {MAX_COMMITMENT}; publish the commitment at a \
                 public URL and commit a pointer to it",
                out.len()
            )));
        }
        Ok(out)
    }

    /// Parses a commitment read from the chain (or, for a pointer's target, from its URL).
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let (&tag, mut rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
        let mut take = |n: usize| -> Result<&[u8], StoreError> {
            if rest.len() < n {
                return Err(bad("truncated"));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let text =
            |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| bad("a field is not UTF-8"));
        let commitment = match tag {
            1 => {
                let path = text(take(bytes.len() - 1)?)?;
                if !path.starts_with('/') {
                    return Err(bad(format!("file path {path:?} is not absolute")));
                }
                BucketCommitment::File { path }
            }
            2 | 3 => {
                let (endpoint, region, access_key_id, secret_access_key, bucket, prefix);
                if tag == 2 {
                    let mut fields = Vec::with_capacity(6);
                    for _ in 0..6 {
                        let len = take(1)?[0] as usize;
                        fields.push(text(take(len)?)?);
                    }
                    let mut fields = fields.into_iter();
                    let mut next = || fields.next().expect("six fields");
                    endpoint = next();
                    region = next();
                    bucket = next();
                    prefix = next();
                    access_key_id = next();
                    secret_access_key = next();
                } else {
                    endpoint = format!(
                        "https://{}.r2.cloudflarestorage.com",
                        hex::encode(take(16)?)
                    );
                    region = "auto".to_string();
                    access_key_id = hex::encode(take(16)?);
                    secret_access_key = hex::encode(take(32)?);
                    let len = take(1)?[0] as usize;
                    bucket = text(take(len)?)?;
                    let len = take(1)?[0] as usize;
                    prefix = text(take(len)?)?;
                }
                if !endpoint.is_empty()
                    && !endpoint.starts_with("https://")
                    && !endpoint.starts_with("http://")
                {
                    return Err(bad(format!("endpoint {endpoint:?} is not an http(s) URL")));
                }
                if access_key_id.is_empty() || secret_access_key.is_empty() {
                    return Err(bad("missing read credentials"));
                }
                // Checks the bucket name the same way a location does.
                Location::parse(&format!("s3://{bucket}"), &S3Credentials::default())?;
                BucketCommitment::S3 {
                    endpoint,
                    region,
                    bucket,
                    prefix,
                    access_key_id,
                    secret_access_key,
                }
            }
            4 => {
                let hash: [u8; 32] = take(32)?.try_into().expect("32 bytes");
                let len = take(1)?[0] as usize;
                let url = text(take(len)?)?;
                if !url.starts_with("https://") && !url.starts_with("http://") {
                    return Err(bad(format!("pointer {url:?} is not an http(s) URL")));
                }
                BucketCommitment::Pointer { hash, url }
            }
            other => return Err(bad(format!("unknown commitment tag {other}"))),
        };
        if !rest.is_empty() {
            return Err(bad(format!("{} trailing bytes", rest.len())));
        }
        Ok(commitment)
    }

    /// Follows a pointer: fetches its target (at most 4 KiB, within 10 s), checks the hash and
    /// parses it. Other commitments are returned as they are.
    pub async fn resolve(self) -> Result<Self, StoreError> {
        let BucketCommitment::Pointer { hash, url } = self else {
            return Ok(self);
        };
        let (base, name) = url
            .rsplit_once('/')
            .ok_or_else(|| bad("pointer URL has no path"))?;
        let client = object_store::ClientOptions::new()
            .with_timeout(Duration::from_secs(10))
            .with_allow_http(url.starts_with("http://"));
        let store = object_store::http::HttpBuilder::new()
            .with_url(base)
            .with_client_options(client)
            .build()
            .map_err(|e| bad(format!("pointer {url}: {e}")))?;
        let path = object_store::path::Path::from(name);
        let meta = store
            .head(&path)
            .await
            .map_err(|e| bad(format!("pointer {url}: {e}")))?;
        if meta.size > MAX_POINTED {
            return Err(bad(format!(
                "pointer {url}: {} bytes is too large",
                meta.size
            )));
        }
        let bytes = store
            .get_range(&path, 0..meta.size)
            .await
            .map_err(|e| bad(format!("pointer {url}: {e}")))?;
        if blake3::hash(&bytes).as_bytes() != &hash {
            return Err(bad(format!(
                "pointer {url}: content does not match the committed hash"
            )));
        }
        match BucketCommitment::decode(&bytes)? {
            BucketCommitment::Pointer { .. } => Err(bad("a pointer may not point to a pointer")),
            target => Ok(target),
        }
    }

    /// Where to read, with the committed read-only credentials.
    pub fn location(&self) -> Result<Location, StoreError> {
        match self {
            BucketCommitment::File { path } => Ok(Location::File { root: path.into() }),
            BucketCommitment::S3 {
                endpoint,
                region,
                bucket,
                prefix,
                access_key_id,
                secret_access_key,
            } => Ok(Location::S3 {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                credentials: S3Credentials {
                    endpoint: (!endpoint.is_empty()).then(|| endpoint.clone()),
                    region: (!region.is_empty()).then(|| region.clone()),
                    access_key_id: Some(access_key_id.clone()),
                    secret_access_key: Some(secret_access_key.clone()),
                    session_token: None,
                },
            }),
            BucketCommitment::Pointer { .. } => Err(bad("resolve the pointer first")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r2() -> BucketCommitment {
        BucketCommitment::S3 {
            endpoint: format!(
                "https://{}.r2.cloudflarestorage.com",
                "0123456789abcdef0123456789abcdef"
            ),
            region: "auto".into(),
            bucket: "gradient-miner-7".into(),
            prefix: "run1".into(),
            access_key_id: "fedcba9876543210fedcba9876543210".into(),
            secret_access_key: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
                .into(),
        }
    }

    #[test]
    fn round_trips_and_packs_r2_within_128_bytes() {
        let file = BucketCommitment::File {
            path: "/tmp/devnet/miner-1".into(),
        };
        let seaweed = BucketCommitment::S3 {
            endpoint: "http://127.0.0.1:8333".into(),
            region: "us-east-1".into(),
            bucket: "miner".into(),
            prefix: String::new(),
            access_key_id: "reader".into(),
            secret_access_key: "reader-secret".into(),
        };
        let pointer = BucketCommitment::Pointer {
            hash: [9; 32],
            url: "https://example.org/c.bin".into(),
        };
        for c in [file, seaweed, r2(), pointer] {
            let bytes = c.encode().unwrap();
            assert!(bytes.len() <= MAX_COMMITMENT);
            assert_eq!(BucketCommitment::decode(&bytes).unwrap(), c);
        }
        let packed = r2().encode().unwrap();
        assert_eq!(packed[0], 3);
        assert_eq!(packed.len(), 1 + 16 + 16 + 32 + 1 + 16 + 1 + 4);
    }

    #[test]
    fn too_long_and_malformed_commitments_are_refused_clearly() {
        let long = BucketCommitment::S3 {
            endpoint: "https://s3.eu-central-1.amazonaws.com".into(),
            region: "eu-central-1".into(),
            bucket: "a-rather-long-bucket-name-for-a-miner".into(),
            prefix: "runs".into(),
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        };
        let err = long.encode().unwrap_err().to_string();
        assert!(err.contains("pointer"), "{err}");

        let good = r2().encode().unwrap();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "empty"),
            (vec![9, 1, 2], "unknown commitment tag 9"),
            (good[..40].to_vec(), "truncated"),
            ([good.clone(), vec![0]].concat(), "trailing"),
            (
                [vec![1], b"relative/path".to_vec()].concat(),
                "not absolute",
            ),
            (
                [vec![4], vec![0; 32], vec![3], b"ftp".to_vec()].concat(),
                "not an http",
            ),
        ];
        for (bytes, want) in cases {
            let err = BucketCommitment::decode(&bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{err} lacks {want}");
        }
    }
}
