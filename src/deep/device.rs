//! Choosing where the deep models run: CPU by default, an NVIDIA GPU with the `cuda` feature.

use candle_core::Device;

use crate::{Error, Result};

/// Where the user asked the deep models to run (`device` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePref {
    /// CUDA when this build has it and a GPU answers, else CPU.
    Auto,
    /// Always the CPU.
    Cpu,
    /// GPU 0; an error when the build or the machine has none.
    Cuda,
}

impl DevicePref {
    /// `auto`, `cpu` or `cuda`.
    pub fn parse(s: &str) -> Result<DevicePref> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DevicePref::Auto),
            "cpu" => Ok(DevicePref::Cpu),
            "cuda" | "gpu" => Ok(DevicePref::Cuda),
            _ => Err(Error::Config(format!(
                "device = `{s}`: expected auto, cpu or cuda"
            ))),
        }
    }
}

/// Whether this binary was built with the `cuda` feature.
pub const fn cuda_compiled() -> bool {
    cfg!(feature = "cuda")
}

/// The device for `pref`.
pub fn select(pref: DevicePref) -> Result<Device> {
    match pref {
        DevicePref::Cpu => Ok(Device::Cpu),
        DevicePref::Auto => {
            if cuda_compiled() {
                Ok(Device::cuda_if_available(0).unwrap_or(Device::Cpu))
            } else {
                Ok(Device::Cpu)
            }
        }
        DevicePref::Cuda => {
            if !cuda_compiled() {
                return Err(Error::Config(
                    "device = cuda, but this binary was built without CUDA: rebuild with \
                     `cargo build --release --features cuda` (see the README's GPU section)"
                        .into(),
                ));
            }
            Device::new_cuda(0)
                .map_err(|e| Error::Config(format!("device = cuda: no usable NVIDIA GPU ({e})")))
        }
    }
}

/// Waits until `device` has finished the work queued so far, so that a timer stopped next
/// measures that work (CUDA kernels run asynchronously to the host); a no-op on the CPU.
pub fn sync(device: &Device) -> Result<()> {
    Ok(device.synchronize()?)
}

/// A short name for reports: "cpu (2 threads)" or "cuda:0 (NVIDIA H200, 139.8 GiB)".
pub fn describe(device: &Device) -> String {
    match device {
        Device::Cpu => format!("cpu ({} threads)", rayon::current_num_threads()),
        Device::Cuda(_) => match super::device_memory::device_name(device) {
            Some(name) => format!("cuda:0 ({name})"),
            None => "cuda:0".to_string(),
        },
        Device::Metal(_) => "metal".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_cuda_without_the_feature() {
        assert_eq!(DevicePref::parse("CPU").unwrap(), DevicePref::Cpu);
        assert!(DevicePref::parse("tpu").is_err());
        assert!(select(DevicePref::Cpu).unwrap().is_cpu());
        if !cuda_compiled() {
            let err = select(DevicePref::Cuda).unwrap_err().to_string();
            assert!(err.contains("--features cuda"), "{err}");
            assert!(select(DevicePref::Auto).unwrap().is_cpu());
        }
    }
}
