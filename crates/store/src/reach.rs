//! Which commitments a node will follow. A commitment is written by whoever registered the
//! hotkey, so following it blindly lets a stranger point a validator at its own disk
//! (`file://` opens, and would create, any directory), at services on its local network
//! (`http://10.0.0.5/…`, `http://127.0.0.1:…` as an S3 endpoint or pointer), or at a cloud
//! metadata address. On a public network only remote, encrypted endpoints are followed; a devnet
//! on one machine says so and may use the rest.

use std::net::IpAddr;

use crate::commitment::BucketCommitment;
use crate::error::StoreError;

/// Where the network a node joins lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reach {
    /// A public network: S3 over https and https pointers to public hosts only.
    #[default]
    Public,
    /// A devnet or test network on this machine or LAN: `file://` paths and plain http too.
    Local,
}

fn refuse(commitment: &BucketCommitment, why: &str) -> StoreError {
    StoreError::Commitment(format!(
        "{commitment:?} is refused on a public network: {why}; a devnet on one machine runs its \
         nodes with --local-network"
    ))
}

/// `host` of `url` (`scheme://host[:port][/…]`), without brackets around an IPv6 address.
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    Some(authority.split(':').next().unwrap_or(authority))
}

/// A host no public network's node should be sent to.
fn is_internal(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    if host.ends_with(".local") || host.ends_with(".internal") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64 // carrier-grade NAT
        }
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (ip.segments()[0] & 0xffc0) == 0xfe80 // link local
                || ip.to_ipv4_mapped().is_some_and(|v4| is_internal(&v4.to_string()))
        }
        Err(_) => false,
    }
}

impl Reach {
    /// Refuses, with the reason, a commitment this node must not follow. Checked before
    /// anything is opened, fetched or created.
    pub fn check(self, commitment: &BucketCommitment) -> Result<(), StoreError> {
        if self == Reach::Local {
            return Ok(());
        }
        let remote = |url: &str, what: &str| -> Result<(), StoreError> {
            if !url.starts_with("https://") {
                return Err(refuse(commitment, &format!("{what} is not https")));
            }
            match host_of(url) {
                Some(host) if !is_internal(host) => Ok(()),
                _ => Err(refuse(
                    commitment,
                    &format!("{what} names a local or private host"),
                )),
            }
        };
        match commitment {
            BucketCommitment::File { .. } => Err(refuse(commitment, "it names a local path")),
            // An empty endpoint is AWS.
            BucketCommitment::S3 { endpoint, .. } if endpoint.is_empty() => Ok(()),
            BucketCommitment::S3 { endpoint, .. } => remote(endpoint, "its endpoint"),
            BucketCommitment::Pointer { url, .. } => remote(url, "its pointer"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(endpoint: &str) -> BucketCommitment {
        BucketCommitment::S3 {
            endpoint: endpoint.into(),
            region: "auto".into(),
            bucket: "b".into(),
            prefix: String::new(),
            access_key_id: "k".into(),
            secret_access_key: "s".into(),
        }
    }

    #[test]
    fn public_networks_follow_only_remote_https() {
        let public = Reach::Public;
        assert!(public.check(&s3("")).is_ok());
        assert!(
            public
                .check(&s3("https://abc.r2.cloudflarestorage.com"))
                .is_ok()
        );
        assert!(public.check(&s3("https://s3.example.com:9000/")).is_ok());
        for endpoint in [
            "http://s3.example.com",
            "https://127.0.0.1:9000",
            "https://localhost",
            "https://10.1.2.3",
            "https://192.168.0.7",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]:443",
            "https://[fd00::1]",
            "https://[::ffff:127.0.0.1]",
            "https://user@10.0.0.1/",
            "https://metadata.google.internal",
        ] {
            let err = public.check(&s3(endpoint)).unwrap_err().to_string();
            assert!(err.contains("--local-network"), "{endpoint}: {err}");
        }
        let file = BucketCommitment::File {
            path: "/etc".into(),
        };
        assert!(
            public
                .check(&file)
                .unwrap_err()
                .to_string()
                .contains("local path")
        );
        let pointer = |url: &str| BucketCommitment::Pointer {
            hash: [0; 32],
            url: url.into(),
        };
        assert!(public.check(&pointer("https://example.com/c")).is_ok());
        assert!(public.check(&pointer("http://example.com/c")).is_err());
        assert!(public.check(&pointer("https://127.0.0.1/c")).is_err());
        assert!(Reach::Local.check(&file).is_ok());
        assert!(Reach::Local.check(&s3("http://127.0.0.1:8333")).is_ok());
    }
}
