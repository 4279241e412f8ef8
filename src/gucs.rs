//! Every `crag.*` setting, registered once from `_PG_init`, with typed accessors.

use std::ffi::CStr;

use crag_core::runtime::{Device, SessionOptions};
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};

/// `crag.device`: where ONNX Runtime sessions run.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum DeviceSetting {
    #[name = c"cpu"]
    Cpu,
    #[name = c"cuda"]
    Cuda,
    #[name = c"auto"]
    Auto,
}

static ONNXRUNTIME_LIBRARY: GucSetting<Option<std::ffi::CString>> =
    GucSetting::<Option<std::ffi::CString>>::new(None);
static THREADS: GucSetting<i32> = GucSetting::<i32>::new(1);
static DEVICE: GucSetting<DeviceSetting> = GucSetting::<DeviceSetting>::new(DeviceSetting::Cpu);
static BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(256);
static DEQUANTIZE_ONCE: GucSetting<bool> = GucSetting::<bool>::new(false);

/// Register the settings. Called from `_PG_init`; creates no threads and loads nothing.
pub fn init() {
    GucRegistry::define_string_guc(
        c"crag.onnxruntime_library",
        c"Absolute path of the ONNX Runtime shared library (libonnxruntime.so, 1.31 or newer).",
        c"Read when a backend first runs a model; empty means the ORT_DYLIB_PATH environment variable of the server. \
          scripts/setup-deps.sh installs it as /usr/local/lib/crag/libonnxruntime.so. A backend keeps the library it \
          loaded first: changes apply to new sessions.",
        &ONNXRUNTIME_LIBRARY,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"crag.threads",
        c"Intra-op threads of each ONNX Runtime session.",
        c"Default 1: parallel query workers are processes, each with its own session, so threads per session rarely \
          help. Raise it for single large batch calls on an otherwise idle server.",
        &THREADS,
        1,
        64,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"crag.device",
        c"Execution device for models: cpu, cuda or auto.",
        c"cuda uses the CUDA execution provider (needs the onnxruntime-gpu library) and falls back to cpu with a \
          NOTICE when it cannot be loaded; auto does the same silently.",
        &DEVICE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"crag.batch_size",
        c"Rows per ONNX Runtime call in CRAG's batch functions.",
        c"Batch functions (crag_dti_batch, crag_topk_adr_batch, ...) split their input into runs of this many rows and \
          check for query cancel between runs.",
        &BATCH_SIZE,
        1,
        65536,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"crag.dequantize_once",
        c"Dequantize int8 model weights once per session instead of on every run.",
        c"The default models store their large matrices as int8. Off (default): each ONNX Runtime run dequantizes them \
          again, which costs little for batches but nearly doubles a per-row crag_dti call. On: sessions built from \
          now on fold them into float32 once, small calls are faster and a backend holds more memory (measured: \
          +89 MB for the relation model, +4 MB for dti). Outputs are identical.",
        &DEQUANTIZE_ONCE,
        GucContext::Userset,
        GucFlags::default(),
    );
}

/// The configured library path: the GUC, else `ORT_DYLIB_PATH`, else empty.
pub fn onnxruntime_library() -> String {
    ONNXRUNTIME_LIBRARY
        .get()
        .as_deref()
        .map(CStr::to_string_lossy)
        .map(|s| s.into_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::env::var("ORT_DYLIB_PATH")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_default()
}

/// Session options from `crag.threads`, `crag.device` and `crag.dequantize_once`.
pub fn session_options() -> SessionOptions {
    let device = match DEVICE.get() {
        DeviceSetting::Cpu => Device::Cpu,
        DeviceSetting::Cuda => Device::Cuda,
        DeviceSetting::Auto => Device::Auto,
    };
    SessionOptions {
        threads: THREADS.get().max(1) as usize,
        device,
        dequantize_once: DEQUANTIZE_ONCE.get(),
    }
}

/// `crag.batch_size`.
pub fn batch_size() -> usize {
    BATCH_SIZE.get().max(1) as usize
}
