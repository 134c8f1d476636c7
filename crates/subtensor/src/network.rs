//! Which subtensor to talk to, named as Bittensor operators name it: `--subtensor.network`
//! (`finney`, `test`, `local`) or `--subtensor.chain_endpoint` (a `ws://` or `wss://` URL,
//! which wins when both are given).

use crate::error::SubtensorError;

pub const FINNEY: &str = "wss://entrypoint-finney.opentensor.ai:443";
pub const TEST: &str = "wss://test.finney.opentensor.ai:443";
pub const LOCAL: &str = "ws://127.0.0.1:9944";

/// A resolved endpoint and the name it was chosen by, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub network: String,
}

impl Endpoint {
    /// From the two flags; `None` when neither is given (the embedded chain is meant).
    pub fn from_flags(
        network: Option<&str>,
        chain_endpoint: Option<&str>,
    ) -> Result<Option<Endpoint>, SubtensorError> {
        if let Some(url) = chain_endpoint {
            if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                return Err(SubtensorError::Config(format!(
                    "--subtensor.chain_endpoint {url}: give a ws:// or wss:// URL, such as {LOCAL}"
                )));
            }
            return Ok(Some(Endpoint {
                url: url.to_string(),
                network: network.unwrap_or("custom").to_string(),
            }));
        }
        let Some(network) = network else {
            return Ok(None);
        };
        let url = match network {
            "finney" => FINNEY,
            "test" => TEST,
            "local" => LOCAL,
            other if other.starts_with("ws://") || other.starts_with("wss://") => other,
            other => {
                return Err(SubtensorError::Config(format!(
                    "--subtensor.network {other}: use finney, test or local, or give \
                     --subtensor.chain_endpoint ws://HOST:PORT"
                )));
            }
        };
        Ok(Some(Endpoint {
            url: url.to_string(),
            network: network.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_resolve_as_bittensor_names_them() {
        let finney = Endpoint::from_flags(Some("finney"), None).unwrap().unwrap();
        assert_eq!(finney.url, FINNEY);
        assert_eq!(
            Endpoint::from_flags(Some("test"), None)
                .unwrap()
                .unwrap()
                .url,
            TEST
        );
        assert_eq!(Endpoint::from_flags(None, None).unwrap(), None);
        let custom = Endpoint::from_flags(Some("local"), Some("ws://10.0.0.2:9945"))
            .unwrap()
            .unwrap();
        assert_eq!(custom.url, "ws://10.0.0.2:9945");
    }

    #[test]
    fn unknown_names_and_urls_are_refused_with_what_to_type() {
        let e = Endpoint::from_flags(Some("mainnet"), None).unwrap_err();
        assert!(e.to_string().contains("use finney, test or local"), "{e}");
        let e = Endpoint::from_flags(None, Some("http://x:9944")).unwrap_err();
        assert!(e.to_string().contains("ws:// or wss://"), "{e}");
    }
}
