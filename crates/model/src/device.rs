//! `--device cpu|cuda:N` to a burn device. In burn 0.22 the backend is chosen at run time by
//! the device, so this function is the one place that picks it.
//!
//! Only `cpu` (burn's pure-Rust flex backend) is built. burn's CUDA backend (cubecl-cuda) needs
//! an LLVM bundle that its build script downloads from GitHub, which our build environment
//! cannot reach; `cuda:N` is therefore refused with that reason rather than compiled blind.

pub use burn::tensor::Device;

use crate::error::ModelError;

/// Parses the device flag users of the original subnet type: `cpu`, `cuda`, `cuda:N`.
pub fn parse_device(spec: &str) -> Result<Device, ModelError> {
    let err = |why: &str| ModelError::Device {
        spec: spec.to_string(),
        why: why.to_string(),
    };
    match spec.trim() {
        "cpu" => Ok(Device::flex()),
        s if s == "cuda" || s.starts_with("cuda:") => {
            if let Some(n) = s.strip_prefix("cuda:")
                && n.parse::<usize>().is_err()
            {
                return Err(err("expected cuda:N with N a GPU index, e.g. cuda:0"));
            }
            Err(err(
                "this build has no CUDA backend yet; use --device cpu (see README, Devices)",
            ))
        }
        _ => Err(err("expected `cpu`, `cuda` or `cuda:N`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_rejects_the_rest_with_a_reason() {
        assert_eq!(parse_device("cpu").unwrap(), Device::flex());
        let e = parse_device("tpu").unwrap_err().to_string();
        assert!(e.contains("expected `cpu`"), "{e}");
        let e = parse_device("cuda:x").unwrap_err().to_string();
        assert!(e.contains("cuda:N"), "{e}");
        let e = parse_device("cuda:0").unwrap_err().to_string();
        assert!(e.contains("no CUDA backend"), "{e}");
    }
}
