//! `--device cpu|cuda|cuda:N|auto` to a burn device. In burn 0.22 the backend is chosen at run
//! time by the device, so this module is the one place that picks it.
//!
//! `cpu` is burn's pure-Rust flex backend, always built. `cuda:N` needs a binary built with the
//! `cuda` feature (burn's cubecl CUDA backend; `scripts/setup-offline-llvm.sh` builds it without
//! internet) *and* an NVIDIA driver with that GPU. The driver is probed here before burn sees the
//! device, because burn only finds out in a device thread and panics there ("Unable to
//! dynamically load the cuda shared library"); a user gets a sentence instead.

pub use burn::tensor::Device;

use crate::error::ModelError;

/// Whether this binary carries burn's CUDA backend.
pub const CUDA_BUILT: bool = cfg!(feature = "cuda");

/// What a `--device` flag asks for, before anything is probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
    Cpu,
    Cuda {
        index: usize,
    },
    /// The first GPU where the build and the machine have one, else the CPU.
    Auto,
}

impl DeviceSpec {
    pub fn parse(spec: &str) -> Result<Self, ModelError> {
        match spec.trim() {
            "cpu" => Ok(Self::Cpu),
            "auto" => Ok(Self::Auto),
            "cuda" => Ok(Self::Cuda { index: 0 }),
            s => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(index)) => Ok(Self::Cuda { index }),
                Some(Err(_)) => Err(device_error(
                    spec,
                    "expected cuda:N with N a GPU index, e.g. cuda:0",
                )),
                None => Err(device_error(
                    spec,
                    "unknown device; expected `cpu`, `cuda`, `cuda:N` or `auto`",
                )),
            },
        }
    }
}

fn device_error(spec: &str, why: impl Into<String>) -> ModelError {
    ModelError::Device {
        spec: spec.to_string(),
        why: why.into(),
    }
}

/// Parses the device flag users of the original subnet type (`cpu`, `cuda`, `cuda:N`, and
/// `auto`) and checks that this binary and this machine can run it.
pub fn parse_device(spec: &str) -> Result<Device, ModelError> {
    match DeviceSpec::parse(spec)? {
        DeviceSpec::Cpu => Ok(Device::flex()),
        // A binary without the feature has no use for the driver: no probe.
        DeviceSpec::Auto if !CUDA_BUILT => Ok(Device::flex()),
        DeviceSpec::Auto => Ok(match gpu::cuda_devices() {
            Ok(n) if n > 0 => cuda(0),
            _ => Device::flex(),
        }),
        DeviceSpec::Cuda { index } => {
            let count = gpu::cuda_devices().map_err(|why| {
                device_error(
                    spec,
                    format!(
                        "no usable NVIDIA driver: {why}; install the driver or use --device cpu"
                    ),
                )
            })?;
            if index >= count {
                return Err(device_error(
                    spec,
                    format!(
                        "this machine has {count} CUDA GPU(s){}",
                        match count {
                            0 => String::new(),
                            n => format!(", cuda:0 to cuda:{}", n - 1),
                        }
                    ),
                ));
            }
            if !CUDA_BUILT {
                return Err(device_error(
                    spec,
                    "this binary was built without the `cuda` feature: build it with \
                     `cargo build --release -p gradient-cli --features cuda` \
                     (scripts/setup-offline-llvm.sh first where the build cannot download \
                     LLVM), or use --device cpu",
                ));
            }
            Ok(cuda(index))
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda(index: usize) -> Device {
    Device::cuda(index)
}

#[cfg(not(feature = "cuda"))]
fn cuda(_index: usize) -> Device {
    unreachable!("callers check CUDA_BUILT first")
}

/// Whether tensors on `device` live in host memory (flex), where host kernels read them
/// without a copy.
pub(crate) fn on_host(device: &Device) -> bool {
    *device == Device::flex()
}

/// Which device a parsed device is, in words for logs and reports.
pub fn describe(device: &Device) -> String {
    if on_host(device) {
        "cpu (flex)".to_string()
    } else {
        format!("{device:?}")
    }
}

mod gpu {
    //! Counts CUDA GPUs through the driver library itself, the way cudarc loads it, so the
    //! answer is the driver's and nothing panics where there is none.

    #[cfg(target_os = "windows")]
    const LIBRARIES: &[&str] = &["nvcuda.dll"];
    #[cfg(not(target_os = "windows"))]
    const LIBRARIES: &[&str] = &["libcuda.so.1", "libcuda.so"];

    /// CUDA_SUCCESS and CUDA_ERROR_NO_DEVICE, from the driver API's `CUresult`.
    const SUCCESS: i32 = 0;
    const NO_DEVICE: i32 = 100;

    type CuInit = unsafe extern "C" fn(flags: u32) -> i32;
    type CuDeviceGetCount = unsafe extern "C" fn(count: *mut i32) -> i32;

    /// The number of GPUs the driver sees, or why the driver cannot be used.
    pub fn cuda_devices() -> Result<usize, String> {
        let mut tried = Vec::new();
        for name in LIBRARIES {
            // SAFETY: loading the NVIDIA driver library runs only its own initialisers; it is
            // made to be loaded at run time, as cudarc (burn's CUDA backend) does.
            match unsafe { libloading::Library::new(*name) } {
                Ok(lib) => return count(&lib, name),
                Err(e) => tried.push(format!("{name}: {e}")),
            }
        }
        Err(format!(
            "the CUDA driver library could not be loaded ({})",
            tried.join("; ")
        ))
    }

    fn count(lib: &libloading::Library, name: &str) -> Result<usize, String> {
        let missing = |e: libloading::Error| format!("{name} lacks the driver API ({e})");
        // SAFETY: the symbols are the CUDA driver API's, with the C signatures declared above
        // (cuda.h: `CUresult cuInit(unsigned int)`, `CUresult cuDeviceGetCount(int*)`).
        let (init, get_count) = unsafe {
            (
                lib.get::<CuInit>(b"cuInit\0").map_err(missing)?,
                lib.get::<CuDeviceGetCount>(b"cuDeviceGetCount\0")
                    .map_err(missing)?,
            )
        };
        // SAFETY: plain C calls with a valid out pointer; the library outlives them.
        let rc = unsafe { init(0) };
        if rc == NO_DEVICE {
            return Ok(0);
        }
        if rc != SUCCESS {
            return Err(format!("cuInit failed with CUresult {rc}"));
        }
        let mut n: i32 = 0;
        // SAFETY: as above.
        let rc = unsafe { get_count(&mut n) };
        if rc != SUCCESS {
            return Err(format!("cuDeviceGetCount failed with CUresult {rc}"));
        }
        Ok(n.max(0) as usize)
    }
}

pub use gpu::cuda_devices;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_refuses_the_rest_with_a_reason() {
        assert_eq!(DeviceSpec::parse("cpu").unwrap(), DeviceSpec::Cpu);
        assert_eq!(DeviceSpec::parse(" auto ").unwrap(), DeviceSpec::Auto);
        assert_eq!(
            DeviceSpec::parse("cuda").unwrap(),
            DeviceSpec::Cuda { index: 0 }
        );
        assert_eq!(
            DeviceSpec::parse("cuda:3").unwrap(),
            DeviceSpec::Cuda { index: 3 }
        );
        assert_eq!(parse_device("cpu").unwrap(), Device::flex());
        let e = parse_device("tpu").unwrap_err().to_string();
        assert!(e.contains("expected `cpu`"), "{e}");
        let e = parse_device("cuda:x").unwrap_err().to_string();
        assert!(e.contains("cuda:N"), "{e}");
    }

    /// Without a GPU (CI, this project's machines) `cuda:0` is a sentence naming what is
    /// missing, and `auto` falls back to the CPU; with one, `cuda:0` is accepted exactly when
    /// the binary has the backend.
    #[test]
    fn cuda_is_refused_in_words_where_it_cannot_run() {
        let gpus = cuda_devices().unwrap_or(0);
        let result = parse_device("cuda:0");
        if gpus == 0 {
            let e = result.unwrap_err().to_string();
            assert!(
                e.contains("no usable NVIDIA driver") || e.contains("has 0 CUDA GPU"),
                "{e}"
            );
            assert!(
                e.contains("--device cpu") || e.contains("0 CUDA GPU"),
                "{e}"
            );
            assert_eq!(parse_device("auto").unwrap(), Device::flex());
        } else {
            assert_eq!(result.is_ok(), CUDA_BUILT, "{result:?}");
            let e = parse_device(&format!("cuda:{gpus}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("{gpus} CUDA GPU")), "{e}");
        }
    }
}
