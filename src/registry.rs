//! The model registry (`crag.models`, `crag.adr_terms`, `crag.adr_prototypes`): lookups, imports and the
//! per-backend session cache.
//!
//! Each call looks up the active version of the named model (one indexed SPI query); the cached session is reused
//! while `(version, sha256, threads, device)` are unchanged, so `crag.activate_model` / `crag.rollback_model` take
//! effect on the next call in every backend.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use crag_core::artifacts::{self, ModelArtifacts};
use crag_core::dti::{DtiConfig, Prototypes};
use crag_core::ner::model::NerConfig;
use crag_core::ner::refine::Refiner;
use crag_core::relation::RelationConfig;
use crag_core::runtime::{self, Device, SessionOptions};
use crag_core::text::TextTokenizer;
use crag_core::CragError;
use once_cell::sync::Lazy;
use ort::session::Session;
use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};

use crate::error::{PgError, PgResult};
use crate::gucs;

/// ADR vocabulary and prototypes of a DTI/ADR model version.
pub struct DtiAssets {
    /// Architecture (input sizes, K, d).
    pub cfg: DtiConfig,
    /// Prototype matrix with its mask.
    pub prototypes: Prototypes,
    /// MedDRA term per ADR column.
    pub terms: Vec<String>,
}

/// Tokenizer of a relation model version (truncating at the config's `max_len`).
pub struct RelationAssets {
    /// The stored `tokenizer.json`, entity markers included.
    pub tokenizer: TextTokenizer,
}

/// Architecture and tokenizer of an NER model version.
pub struct NerAssets {
    /// Labels, window length and stride.
    pub cfg: NerConfig,
    /// The stored `tokenizer.json` (no entity markers).
    pub tokenizer: TextTokenizer,
    /// `cfg.refine` compiled once per loaded version (its lexicon automaton), not per call.
    pub refiner: Refiner,
}

/// A model version with its live ONNX Runtime session.
pub struct LoadedModel {
    /// Registry name.
    pub name: String,
    /// Active version when loaded.
    pub version: i32,
    sha256: String,
    opts: SessionOptions,
    /// The session.
    pub session: Session,
    /// Whether the session runs on CUDA.
    pub on_cuda: bool,
    /// DTI/ADR extras (`kind = 'dti_adr'`).
    pub dti: Option<DtiAssets>,
    /// Relation extras (`kind = 'relation'`).
    pub relation: Option<RelationAssets>,
    /// NER extras (`kind = 'ner'`).
    pub ner: Option<NerAssets>,
}

static MODELS: Lazy<Mutex<HashMap<String, LoadedModel>>> = Lazy::new(|| Mutex::new(HashMap::new()));

struct ActiveRow {
    version: i32,
    sha256: String,
    kind: String,
}

fn registered_models_detail() -> PgResult<String> {
    let list: Option<String> = Spi::get_one(
        "SELECT string_agg(name || ' (' || coalesce('active version ' || av, 'no active version') || ')', ', ' \
         ORDER BY name) FROM (SELECT name, max(version) FILTER (WHERE active) AS av FROM crag.models GROUP BY name) s",
    )?;
    Ok(match list {
        Some(l) => format!("Registered models: {l}."),
        None => "No models are registered.".to_string(),
    })
}

fn active_row(name: &str) -> PgResult<ActiveRow> {
    let row = Spi::connect(|client| -> PgResult<Option<ActiveRow>> {
        let mut rows = client.select(
            "SELECT version, sha256, kind FROM crag.models WHERE name = $1 AND active",
            Some(1),
            &[name.into()],
        )?;
        match rows.next() {
            None => Ok(None),
            Some(r) => Ok(Some(ActiveRow {
                version: r.get::<i32>(1)?.unwrap_or_default(),
                sha256: r.get::<String>(2)?.unwrap_or_default(),
                kind: r.get::<String>(3)?.unwrap_or_default(),
            })),
        }
    })?;
    match row {
        Some(r) => Ok(r),
        None => {
            let exists = Spi::get_one_with_args::<bool>(
                "SELECT EXISTS (SELECT 1 FROM crag.models WHERE name = $1)",
                &[name.into()],
            )?
            .unwrap_or(false);
            let err = if exists {
                PgError::new(
                    PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!("model \"{name}\" has no active version"),
                )
                .hint(format!(
                    "Activate one with SELECT crag.activate_model('{name}', <version>);"
                ))
            } else {
                PgError::new(
                    PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
                    format!("model \"{name}\" does not exist"),
                )
                .hint("Load models with crag.import_model(dir) or crag.import_default_models().")
            };
            Err(err.detail(registered_models_detail()?))
        }
    }
}

/// Load the ONNX Runtime library named by `crag.onnxruntime_library` (once per backend).
pub fn ort_environment() -> PgResult<&'static ort::environment::Environment> {
    let path = gucs::onnxruntime_library();
    if let Some(loaded) = runtime::loaded_library() {
        if !path.is_empty() && path != loaded {
            pgrx::warning!(
                "crag: crag.onnxruntime_library is \"{path}\", but this backend already loaded \"{loaded}\"; \
                 the new value applies to new sessions"
            );
        }
    }
    let hint = "Set crag.onnxruntime_library to the absolute path of libonnxruntime.so (1.31 or newer), e.g. \
                ALTER SYSTEM SET crag.onnxruntime_library = '/usr/local/lib/crag/libonnxruntime.so'; \
                scripts/setup-deps.sh installs it there.";
    if path.is_empty() && runtime::loaded_library().is_none() {
        return Err(PgError::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "crag.onnxruntime_library is not set and ORT_DYLIB_PATH is empty",
        )
        .hint(hint));
    }
    runtime::init(&path).map_err(|e| {
        let code = if Path::new(&path).is_file() {
            PgSqlErrorCode::ERRCODE_SYSTEM_ERROR
        } else {
            PgSqlErrorCode::ERRCODE_UNDEFINED_FILE
        };
        PgError::new(code, format!("crag.onnxruntime_library = \"{path}\": {e}")).hint(hint)
    })
}

/// Prototype rows as read from `crag.adr_prototypes`: `(adr_index, prototype)`.
type PrototypeRows = Vec<(usize, Option<Vec<f32>>)>;

fn load_dti_assets(name: &str, version: i32, config: &serde_json::Value) -> PgResult<DtiAssets> {
    let cfg = artifacts::dti_config(config)?;
    let (terms, rows) = Spi::connect(|client| -> PgResult<(Vec<String>, PrototypeRows)> {
        let mut terms = vec![String::new(); cfg.n_adr];
        for r in client.select(
            "SELECT adr_index, term FROM crag.adr_terms WHERE model = $1 AND version = $2",
            None,
            &[name.into(), version.into()],
        )? {
            let idx = r.get::<i32>(1)?.unwrap_or(-1);
            if idx < 0 || idx as usize >= cfg.n_adr {
                return Err(CragError::CorruptModel(format!(
                    "crag.adr_terms has ADR index {idx} for {name} v{version}, outside 0..{}",
                    cfg.n_adr
                ))
                .into());
            }
            terms[idx as usize] = r.get::<String>(2)?.unwrap_or_default();
        }
        let mut rows = Vec::new();
        for r in client.select(
            "SELECT adr_index, prototype FROM crag.adr_prototypes WHERE model = $1 AND version = $2",
            None,
            &[name.into(), version.into()],
        )? {
            let idx = r.get::<i32>(1)?.unwrap_or(-1).max(0) as usize;
            let proto: Option<Vec<Option<f32>>> = r.get(2)?;
            let proto = proto.map(|p| p.into_iter().map(|v| v.unwrap_or(f32::NAN)).collect());
            rows.push((idx, proto));
        }
        Ok((terms, rows))
    })?;
    let prototypes = Prototypes::from_rows(cfg.n_adr, cfg.d, rows)?;
    if prototypes.n_present() == 0 {
        return Err(CragError::CorruptModel(format!(
            "model {name} v{version} has no ADR prototypes"
        ))
        .into());
    }
    Ok(DtiAssets {
        cfg,
        prototypes,
        terms,
    })
}

fn load_model(name: &str, active: &ActiveRow, opts: SessionOptions) -> PgResult<LoadedModel> {
    let env = ort_environment()?;
    type Row = (Vec<u8>, serde_json::Value, Option<Vec<u8>>);
    let (onnx, config, tokenizer) = Spi::connect(|client| -> PgResult<Row> {
        let mut rows = client.select(
            "SELECT onnx, config, tokenizer FROM crag.models WHERE name = $1 AND version = $2",
            Some(1),
            &[name.into(), active.version.into()],
        )?;
        let r = rows.next().ok_or_else(|| {
            PgError::new(
                PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
                format!("model {name} vanished"),
            )
        })?;
        let onnx = r.get::<Vec<u8>>(1)?.unwrap_or_default();
        let config = r.get::<JsonB>(2)?.map(|j| j.0).unwrap_or_default();
        let tokenizer = r.get::<Vec<u8>>(3)?;
        Ok((onnx, config, tokenizer))
    })?;
    let got = artifacts::sha256_hex(&onnx);
    if got != active.sha256 {
        return Err(CragError::CorruptModel(format!(
            "model {name} v{}: stored sha256 {} does not match the ONNX bytes ({got})",
            active.version, active.sha256
        ))
        .into());
    }
    let dti = if active.kind == "dti_adr" {
        Some(load_dti_assets(name, active.version, &config)?)
    } else {
        None
    };
    let ner = if active.kind == "ner" {
        let cfg = NerConfig::from_json(&config)?;
        let bytes = tokenizer.as_ref().ok_or_else(|| {
            CragError::CorruptModel(format!(
                "NER model {name} v{} has no tokenizer in crag.models.tokenizer",
                active.version
            ))
        })?;
        let tokenizer = TextTokenizer::from_bytes_plain(bytes, cfg.max_len)?;
        let refiner = Refiner::new(&cfg.refine)?;
        Some(NerAssets {
            cfg,
            tokenizer,
            refiner,
        })
    } else {
        None
    };
    let relation = if active.kind == "relation" {
        let cfg = RelationConfig::from_json(&config)?;
        let bytes = tokenizer.ok_or_else(|| {
            CragError::CorruptModel(format!(
                "relation model {name} v{} has no tokenizer in crag.models.tokenizer",
                active.version
            ))
        })?;
        let tokenizer = TextTokenizer::from_bytes(&bytes, cfg.max_len)?;
        Some(RelationAssets { tokenizer })
    } else {
        None
    };
    let loaded = runtime::load_session(env, &onnx, &opts)?;
    if let Some(reason) = &loaded.fallback_reason {
        if opts.device == Device::Cuda {
            pgrx::notice!(
                "crag: CUDA execution provider unavailable for model {name}, using CPU ({reason})"
            );
        }
    }
    Ok(LoadedModel {
        name: name.to_string(),
        version: active.version,
        sha256: active.sha256.clone(),
        opts,
        session: loaded.session,
        on_cuda: loaded.on_cuda,
        dti,
        relation,
        ner,
    })
}

/// Run `f` on the active version of model `name`, which must be of `kind`; loads or reloads it as needed.
pub fn with_model<R>(
    name: &str,
    kind: &str,
    f: impl FnOnce(&mut LoadedModel) -> PgResult<R>,
) -> PgResult<R> {
    let active = active_row(name)?;
    if active.kind != kind {
        return Err(PgError::invalid(format!(
            "model \"{name}\" is a {} model; this function needs a {kind} model",
            active.kind
        )));
    }
    let opts = gucs::session_options();
    let mut cache = MODELS.lock().unwrap_or_else(|p| p.into_inner());
    let fresh = cache.get(name).is_some_and(|m| {
        m.version == active.version && m.sha256 == active.sha256 && m.opts == opts
    });
    if !fresh {
        cache.remove(name);
        let m = load_model(name, &active, opts)?;
        cache.insert(name.to_string(), m);
    }
    match cache.get_mut(name) {
        Some(m) => f(m),
        None => Err(PgError::new(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "model cache lost an entry",
        )),
    }
}

/// Per-backend cache contents: `(model, version, device, weights dequantized once)`.
pub fn cached_models() -> Vec<(String, i32, String, bool)> {
    let cache = MODELS.lock().unwrap_or_else(|p| p.into_inner());
    let mut v: Vec<_> = cache
        .values()
        .map(|m| {
            (
                m.name.clone(),
                m.version,
                if m.on_cuda { "cuda" } else { "cpu" }.to_string(),
                m.opts.dequantize_once,
            )
        })
        .collect();
    v.sort();
    v
}

fn require_file_access() -> PgResult<()> {
    let ok = Spi::get_one::<bool>(
        "SELECT pg_catalog.pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') \
         OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)",
    )?
    .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(PgError::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "importing a model from the server's file system requires superuser or pg_read_server_files",
        ))
    }
}

/// Insert a model read from disk as a new version (or reuse the version with the same ONNX sha256 and config).
pub fn import_artifacts(art: &ModelArtifacts, activate: bool) -> PgResult<i32> {
    let meta = &art.meta;
    let existing = Spi::get_one_with_args::<i32>(
        "SELECT max(version) FROM crag.models WHERE name = $1 AND sha256 = $2 AND config = $3",
        &[
            meta.name.as_str().into(),
            art.sha256().into(),
            JsonB(meta.config.clone()).into(),
        ],
    )?;
    let version = match existing {
        Some(v) => v,
        None => {
            let v = Spi::get_one_with_args::<i32>(
                "SELECT crag.register_model($1, $2, $3, $4, $5, $6, false)",
                &[
                    meta.name.as_str().into(),
                    meta.kind.as_str().into(),
                    art.onnx.clone().into(),
                    JsonB(meta.config.clone()).into(),
                    JsonB(meta.metrics.clone()).into(),
                    art.tokenizer.clone().into(),
                ],
            )?
            .ok_or_else(|| {
                PgError::new(
                    PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                    "register_model returned NULL",
                )
            })?;
            if let Some((_, d, data)) = &art.prototypes {
                let terms: Vec<String> = art.adr_terms.iter().map(|t| t.term.clone()).collect();
                let ids: Vec<String> = art
                    .adr_terms
                    .iter()
                    .map(|t| t.meddra_id.clone().unwrap_or_default())
                    .collect();
                Spi::run_with_args(
                    "SELECT crag.set_adr_vocabulary($1, $2, $3, $4, $5, $6)",
                    &[
                        meta.name.as_str().into(),
                        v.into(),
                        terms.into(),
                        ids.into(),
                        data.clone().into(),
                        (*d as i32).into(),
                    ],
                )?;
            }
            v
        }
    };
    if activate {
        Spi::run_with_args(
            "SELECT crag.activate_model($1, $2)",
            &[meta.name.as_str().into(), version.into()],
        )?;
    }
    Ok(version)
}

/// `crag.import_model(dir)`: read a model directory written by `crag-train --out DIR`.
pub fn import_dir(dir: &str, activate: bool) -> PgResult<i32> {
    require_file_access()?;
    let art = ModelArtifacts::read_dir(Path::new(dir))?;
    import_artifacts(&art, activate)
}

/// Where packaged default models live: `$sharedir/extension/crag_models`.
pub fn default_models_dir() -> String {
    let mut buf = [0 as std::ffi::c_char; pgrx::pg_sys::MAXPGPATH as usize];
    // SAFETY: my_exec_path is set for every backend; get_share_path writes a NUL-terminated path into buf.
    unsafe {
        pgrx::pg_sys::get_share_path(
            std::ptr::addr_of!(pgrx::pg_sys::my_exec_path).cast(),
            buf.as_mut_ptr(),
        )
    };
    let share = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    format!("{share}/extension/crag_models")
}

/// Import every model listed in `manifest.json` of [`default_models_dir`]; returns `(name, version)` pairs.
pub fn import_defaults() -> PgResult<Vec<(String, i32)>> {
    require_file_access()?;
    let dir = default_models_dir();
    let manifest_path = format!("{dir}/manifest.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        CragError::io(
            format!("reading {manifest_path} (install it with scripts/install.sh)"),
            e,
        )
    })?;
    let manifest: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CragError::CorruptModel(format!("{manifest_path}: {e}")))?;
    let entries = manifest
        .get("models")
        .and_then(|m| m.as_array())
        .ok_or_else(|| CragError::CorruptModel(format!("{manifest_path}: no \"models\" list")))?;
    let mut out = Vec::new();
    for e in entries {
        let sub = e.get("dir").and_then(|d| d.as_str()).ok_or_else(|| {
            CragError::CorruptModel(format!("{manifest_path}: entry without \"dir\""))
        })?;
        let art = ModelArtifacts::read_dir(&Path::new(&dir).join(sub))?;
        if let Some(sha) = e.get("sha256").and_then(|s| s.as_str()) {
            if sha != art.sha256() {
                return Err(CragError::CorruptModel(format!(
                    "{sub}/model.onnx has sha256 {}, the manifest says {sha}",
                    art.sha256()
                ))
                .into());
            }
        }
        let v = import_artifacts(&art, true)?;
        out.push((art.meta.name.clone(), v));
    }
    Ok(out)
}
