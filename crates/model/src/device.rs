//! `--device cpu|cuda:N` to a burn device. The backend is chosen at run time by the device;
//! the `cuda` cargo feature compiles burn's CUDA backend in.

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
            let index = match s.strip_prefix("cuda:") {
                None => 0,
                Some(n) => n
                    .parse::<usize>()
                    .map_err(|_| err("expected cuda:N with N a GPU index, e.g. cuda:0"))?,
            };
            cuda(index).ok_or_else(|| {
                err("this build has no CUDA support; rebuild with `cargo build --release --features cuda`")
            })
        }
        _ => Err(err("expected `cpu`, `cuda` or `cuda:N`")),
    }
}

#[cfg(feature = "cuda")]
fn cuda(index: usize) -> Option<Device> {
    Some(Device::cuda(index))
}

#[cfg(not(feature = "cuda"))]
fn cuda(_index: usize) -> Option<Device> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_rejects_nonsense() {
        assert!(parse_device("cpu").is_ok());
        let e = parse_device("tpu").unwrap_err().to_string();
        assert!(e.contains("expected `cpu`"), "{e}");
        let e = parse_device("cuda:x").unwrap_err().to_string();
        assert!(e.contains("cuda:N"), "{e}");
    }
}
