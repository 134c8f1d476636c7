//! Where a store is: `file:///path` for a devnet, or `s3://bucket/prefix` on any S3-compatible
//! service (AWS, Cloudflare R2, SeaweedFS, MinIO), with its endpoint, region and credentials
//! from the environment as the AWS tools read them.

use std::path::PathBuf;

use crate::error::StoreError;

/// S3 settings as the AWS CLI reads them from the environment (and a `.env` file loaded by the
/// binary): `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_ENDPOINT_URL`, `AWS_REGION` (or `AWS_DEFAULT_REGION`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Credentials {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

impl S3Credentials {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        S3Credentials {
            endpoint: var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on local disk.
    File { root: PathBuf },
    /// A bucket, and a prefix inside it, on an S3-compatible service.
    S3 {
        bucket: String,
        prefix: String,
        credentials: S3Credentials,
    },
}

impl Location {
    /// Parses `file:///abs/path`, a plain path, or `s3://bucket[/prefix]` with `credentials`.
    pub fn parse(url: &str, credentials: &S3Credentials) -> Result<Location, StoreError> {
        let bad = |why: &str| StoreError::Location {
            url: url.to_string(),
            why: why.to_string(),
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            check_bucket(bucket).map_err(|why| bad(&why))?;
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
                credentials: credentials.clone(),
            });
        }
        let path = if let Some(rest) = url.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(bad(
                    "a file URL needs an absolute path: file:///path/to/dir",
                ));
            }
            rest
        } else if url.contains("://") {
            return Err(bad("only file:// and s3:// stores are supported"));
        } else {
            url
        };
        if path.is_empty() {
            return Err(bad("empty path"));
        }
        let root = std::path::absolute(path).map_err(|e| bad(&e.to_string()))?;
        Ok(Location::File { root })
    }

    /// The location as a URL, without credentials.
    pub fn url(&self) -> String {
        match self {
            Location::File { root } => format!("file://{}", root.display()),
            Location::S3 { bucket, prefix, .. } if prefix.is_empty() => format!("s3://{bucket}"),
            Location::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
        }
    }
}

/// S3's bucket naming rules, so a typo fails here rather than as a signature error.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let ok_chars = bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if !(3..=63).contains(&bucket.len()) || !ok_chars {
        return Err(format!(
            "bucket name {bucket:?} must be 3-63 characters of a-z, 0-9, '-' and '.'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_and_s3_locations() {
        let none = S3Credentials::default();
        assert_eq!(
            Location::parse("file:///tmp/x", &none).unwrap(),
            Location::File {
                root: "/tmp/x".into()
            }
        );
        let s3 = Location::parse("s3://my-bucket/runs/a/", &none).unwrap();
        assert_eq!(s3.url(), "s3://my-bucket/runs/a");
        for bad in ["s3://", "s3://A_B", "file://relative", "gs://bucket", ""] {
            assert!(Location::parse(bad, &none).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let c = S3Credentials {
            secret_access_key: Some("hunter2".into()),
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
