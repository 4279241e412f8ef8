//! ONNX Runtime sessions for CRAG models, through `ort` with the runtime library loaded dynamically.
//!
//! The library path is given by the caller (the extension reads it from the `crag.onnxruntime_library` GUC); no
//! `ort` API is touched before [`init`] succeeds, so a missing or wrong library is an error, never a panic.

use std::path::Path;

use ndarray::{Array2, ArrayView2};
use once_cell::sync::OnceCell;
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
/// An ONNX Runtime session (re-exported so callers need no direct `ort` dependency).
pub use ort::session::Session;
use ort::value::TensorRef;

use crate::dti::{io, PairScorer};
use crate::{CragError, Result};

static ENV: OnceCell<(Environment, String)> = OnceCell::new();

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    /// CPU execution provider.
    Cpu,
    /// CUDA execution provider; falls back to CPU (with a notice) when it cannot be loaded.
    Cuda,
    /// CUDA when it loads, CPU otherwise, silently.
    Auto,
}

/// Per-session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionOptions {
    /// Intra-op threads (1 inside PostgreSQL: parallel workers are processes).
    pub threads: usize,
    /// Requested device.
    pub device: Device,
    /// Fold the int8 weights' `DequantizeLinear` nodes into float32 constants when the session is built: faster
    /// small calls, more memory per session (ONNX Runtime's `session.disable_quant_qdq`). Off: every run dequantises
    /// them again.
    pub dequantize_once: bool,
}

/// A built session and what it runs on.
pub struct LoadedSession {
    /// The ONNX Runtime session.
    pub session: Session,
    /// True when the CUDA provider was registered.
    pub on_cuda: bool,
    /// Set when CUDA was requested but not available (the caller decides how to tell the user).
    pub fallback_reason: Option<String>,
}

/// Load the ONNX Runtime shared library at `path` (once per process) and create the environment.
///
/// Later calls return the existing environment; the path of the first successful load is reported by
/// [`loaded_library`].
pub fn init(path: &str) -> Result<&'static Environment> {
    if let Some((env, _)) = ENV.get() {
        return Ok(env);
    }
    if path.is_empty() {
        return Err(CragError::Runtime(
            "no ONNX Runtime library configured".into(),
        ));
    }
    if !Path::new(path).is_file() {
        return Err(CragError::Runtime(format!(
            "ONNX Runtime library \"{path}\" does not exist"
        )));
    }
    let (env, _) = ENV.get_or_try_init(|| -> Result<(Environment, String)> {
        let builder = ort::init_from(path)
            .map_err(|e| CragError::Runtime(format!("cannot load ONNX Runtime library: {e}")))?;
        let env = builder
            .with_name("crag")
            .with_telemetry(false)
            .build()
            .map_err(|e| {
                CragError::Runtime(format!("cannot create ONNX Runtime environment: {e}"))
            })?;
        Ok((env, path.to_string()))
    })?;
    Ok(env)
}

/// The library path the process loaded, if any.
pub fn loaded_library() -> Option<&'static str> {
    ENV.get().map(|(_, p)| p.as_str())
}

fn rt<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> CragError + '_ {
    move |e| CragError::Runtime(format!("{what}: {e}"))
}

fn builder(
    env: &Environment,
    opts: &SessionOptions,
) -> Result<ort::session::builder::SessionBuilder> {
    Session::builder(env)
        .map_err(rt("creating session builder"))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(rt("setting graph optimisation"))?
        .with_intra_threads(opts.threads.max(1))
        .map_err(rt("setting intra-op threads"))?
        .with_inter_threads(1)
        .map_err(rt("setting inter-op threads"))?
        .with_config_entry(
            "session.disable_quant_qdq",
            if opts.dequantize_once { "1" } else { "0" },
        )
        .map_err(rt("setting weight dequantisation"))
}

/// Build a session from ONNX bytes with graph optimisation, the requested threads and device.
pub fn load_session(
    env: &Environment,
    onnx: &[u8],
    opts: &SessionOptions,
) -> Result<LoadedSession> {
    let mut fallback_reason = None;
    if opts.device != Device::Cpu {
        let cuda = ort::ep::CUDA::default().build().error_on_failure();
        match builder(env, opts)?.with_execution_providers([cuda]) {
            Ok(mut b) => match b.commit_from_memory(onnx) {
                Ok(session) => {
                    return Ok(LoadedSession {
                        session,
                        on_cuda: true,
                        fallback_reason: None,
                    })
                }
                Err(e) => fallback_reason = Some(e.to_string()),
            },
            Err(e) => fallback_reason = Some(e.to_string()),
        }
    }
    let session = builder(env, opts)?
        .commit_from_memory(onnx)
        .map_err(|e| CragError::CorruptModel(format!("ONNX Runtime rejected the model: {e}")))?;
    Ok(LoadedSession {
        session,
        on_cuda: false,
        fallback_reason,
    })
}

/// Outputs of the DTI/ADR graph for a batch.
#[derive(Debug, Clone)]
pub struct DtiRun {
    /// Binding probability per pair.
    pub p_bind: Vec<f32>,
    /// Drug embeddings `[B, d]`.
    pub u: Array2<f32>,
    /// Protein embeddings `[B, d]`.
    pub v: Array2<f32>,
    /// Predicted TF-IDF ADR profile `[B, K]`.
    pub adr_pred: Array2<f32>,
    /// The learned pair-scorer scalars.
    pub scorer: PairScorer,
}

fn output_matrix(outputs: &ort::session::SessionOutputs<'_>, name: &str) -> Result<Array2<f32>> {
    let arr = outputs
        .get(name)
        .ok_or_else(|| CragError::CorruptModel(format!("model has no output \"{name}\"")))?
        .try_extract_array::<f32>()
        .map_err(rt(name))?;
    arr.into_dimensionality::<ndarray::Ix2>()
        .map(|a| a.to_owned())
        .map_err(|e| CragError::CorruptModel(format!("output {name}: {e}")))
}

fn output_vec(outputs: &ort::session::SessionOutputs<'_>, name: &str) -> Result<Vec<f32>> {
    let arr = outputs
        .get(name)
        .ok_or_else(|| CragError::CorruptModel(format!("model has no output \"{name}\"")))?
        .try_extract_array::<f32>()
        .map_err(rt(name))?;
    Ok(arr.iter().copied().collect())
}

fn output_scalar(outputs: &ort::session::SessionOutputs<'_>, name: &str) -> Result<f32> {
    output_vec(outputs, name)?
        .first()
        .copied()
        .ok_or_else(|| CragError::CorruptModel(format!("output {name} is empty")))
}

/// Run the DTI/ADR graph on a batch of (drug, protein) rows.
pub fn run_dti(
    session: &mut Session,
    drug: ArrayView2<f32>,
    prot: ArrayView2<f32>,
) -> Result<DtiRun> {
    let d = TensorRef::from_array_view(drug).map_err(rt("drug tensor"))?;
    let p = TensorRef::from_array_view(prot).map_err(rt("protein tensor"))?;
    let outputs = session
        .run(ort::inputs![io::DRUG => d, io::PROTEIN => p])
        .map_err(rt("running the DTI model"))?;
    Ok(DtiRun {
        p_bind: output_vec(&outputs, io::P_BIND)?,
        u: output_matrix(&outputs, io::U)?,
        v: output_matrix(&outputs, io::V)?,
        adr_pred: output_matrix(&outputs, io::ADR_PRED)?,
        scorer: PairScorer {
            alpha: output_scalar(&outputs, io::ALPHA)?,
            beta: output_scalar(&outputs, io::BETA)?,
            gamma: output_scalar(&outputs, io::GAMMA)?,
        },
    })
}

/// Run the relation graph on tokenized drug and ADR contexts (same batch size): P(causal) per pair.
pub fn run_relation(
    session: &mut Session,
    drug: &crate::text::Batch,
    adr: &crate::text::Batch,
) -> Result<Vec<f32>> {
    use crate::relation::io as rio;
    if drug.batch != adr.batch {
        return Err(CragError::invalid(format!(
            "{} drug contexts but {} ADR contexts",
            drug.batch, adr.batch
        )));
    }
    let view = |b: &crate::text::Batch, what: &str| -> Result<(Array2<i64>, Array2<i64>)> {
        let shape = (b.batch, b.seq_len);
        let bad = |e: ndarray::ShapeError| CragError::Runtime(format!("{what} batch: {e}"));
        Ok((
            Array2::from_shape_vec(shape, b.input_ids.clone()).map_err(bad)?,
            Array2::from_shape_vec(shape, b.attention_mask.clone()).map_err(bad)?,
        ))
    };
    let (di, dm) = view(drug, "drug")?;
    let (ai, am) = view(adr, "ADR")?;
    let outputs = session
        .run(ort::inputs![
            rio::DRUG_INPUT_IDS => TensorRef::from_array_view(di.view()).map_err(rt("drug ids"))?,
            rio::DRUG_ATTENTION_MASK => TensorRef::from_array_view(dm.view()).map_err(rt("drug mask"))?,
            rio::ADR_INPUT_IDS => TensorRef::from_array_view(ai.view()).map_err(rt("ADR ids"))?,
            rio::ADR_ATTENTION_MASK => TensorRef::from_array_view(am.view()).map_err(rt("ADR mask"))?,
        ])
        .map_err(rt("running the relation model"))?;
    let p = output_vec(&outputs, rio::P_CAUSAL)?;
    if p.len() != drug.batch {
        return Err(CragError::CorruptModel(format!(
            "relation model returned {} probabilities for {} pairs",
            p.len(),
            drug.batch
        )));
    }
    Ok(p)
}

/// Score `(drug context, ADR context)` pairs with a relation graph, `batch` pairs per session call: pairs are
/// ordered by length so each call pads little, tokenized with dynamic padding, and the probabilities come back in
/// input order. `between` runs before every call (the extension checks for query cancel there). Blank contexts are
/// errors naming the pair.
pub fn score_relation_pairs(
    session: &mut Session,
    tok: &crate::text::TextTokenizer,
    drugs: &[&str],
    adrs: &[&str],
    batch: usize,
    mut between: impl FnMut() -> Result<()>,
) -> Result<Vec<f32>> {
    if drugs.len() != adrs.len() {
        return Err(CragError::invalid(format!(
            "{} drug contexts but {} ADR contexts; they are paired by position",
            drugs.len(),
            adrs.len()
        )));
    }
    for (i, (d, a)) in drugs.iter().zip(adrs).enumerate() {
        for (what, t) in [("drug", d), ("ADR", a)] {
            if t.trim().is_empty() {
                return Err(CragError::invalid(format!(
                    "{what} context of pair {} is empty",
                    i + 1
                )));
            }
        }
    }
    let mut order: Vec<usize> = (0..drugs.len()).collect();
    order.sort_by_key(|&i| drugs[i].len().max(adrs[i].len()));
    let mut out = vec![0.0f32; drugs.len()];
    for chunk in order.chunks(batch.max(1)) {
        between()?;
        let d: Vec<&str> = chunk.iter().map(|&i| drugs[i]).collect();
        let a: Vec<&str> = chunk.iter().map(|&i| adrs[i]).collect();
        let p = run_relation(session, &tok.encode_batch(&d)?, &tok.encode_batch(&a)?)?;
        for (&i, v) in chunk.iter().zip(p) {
            out[i] = v;
        }
    }
    Ok(out)
}

/// Run the NER graph on row-major `[batch, seq]` ids and mask: logits `[batch, seq, n_labels]`.
pub fn run_ner(
    session: &mut Session,
    input_ids: &[i64],
    attention_mask: &[i64],
    batch: usize,
    seq_len: usize,
) -> Result<ndarray::Array3<f32>> {
    use crate::ner::model::io as nio;
    let shape = (batch, seq_len);
    let bad = |e: ndarray::ShapeError| CragError::invalid(format!("NER batch: {e}"));
    let ids = Array2::from_shape_vec(shape, input_ids.to_vec()).map_err(bad)?;
    let mask = Array2::from_shape_vec(shape, attention_mask.to_vec()).map_err(bad)?;
    // An extractor with a relation head also takes pair positions; zeros when only entities are wanted.
    let pairs = Array2::<i64>::zeros((batch, 2));
    let mut inputs = ort::inputs![
        nio::INPUT_IDS => TensorRef::from_array_view(ids.view()).map_err(rt("ids"))?,
        nio::ATTENTION_MASK => TensorRef::from_array_view(mask.view()).map_err(rt("mask"))?,
    ];
    if session.inputs().iter().any(|i| i.name() == nio::PAIR_INDEX) {
        inputs.push((
            nio::PAIR_INDEX.into(),
            TensorRef::from_array_view(pairs.view())
                .map_err(rt("pair index"))?
                .into(),
        ));
    }
    let outputs = session.run(inputs).map_err(rt("running the NER model"))?;
    let arr = outputs
        .get(nio::LOGITS)
        .ok_or_else(|| CragError::CorruptModel(format!("model has no output \"{}\"", nio::LOGITS)))?
        .try_extract_array::<f32>()
        .map_err(rt(nio::LOGITS))?;
    arr.into_dimensionality::<ndarray::Ix3>()
        .map(|a| a.to_owned())
        .map_err(|e| CragError::CorruptModel(format!("output {}: {e}", nio::LOGITS)))
}

/// Extract entities from texts with an NER graph, `batch` windows per session call, refined by `refiner` (compiled
/// once from `cfg.refine`; see [`crate::ner::tagging::extract_with`]); `between` runs before every call (the
/// extension checks for query cancel there).
pub fn extract_entities(
    session: &mut Session,
    tok: &crate::text::TextTokenizer,
    cfg: &crate::ner::model::NerConfig,
    refiner: &crate::ner::refine::Refiner,
    texts: &[&str],
    batch: usize,
    mut between: impl FnMut() -> Result<()>,
) -> Result<Vec<Vec<crate::ner::tagging::Mention>>> {
    crate::ner::tagging::extract_with(tok, cfg, refiner, texts, batch, |ids, mask, b, l| {
        between()?;
        run_ner(session, ids, mask, b, l)
    })
}

/// Run the relation head of an extractor graph: relation logits `[batch, n_relation_labels]` for row-major
/// `[batch, seq]` ids and mask and the head/tail marker positions of each row.
pub fn run_relation_head(
    session: &mut Session,
    input_ids: &[i64],
    attention_mask: &[i64],
    pair_index: &[[i64; 2]],
    batch: usize,
    seq_len: usize,
) -> Result<Array2<f32>> {
    use crate::ner::model::io as nio;
    let shape = (batch, seq_len);
    let bad = |e: ndarray::ShapeError| CragError::invalid(format!("relation batch: {e}"));
    let ids = Array2::from_shape_vec(shape, input_ids.to_vec()).map_err(bad)?;
    let mask = Array2::from_shape_vec(shape, attention_mask.to_vec()).map_err(bad)?;
    let flat: Vec<i64> = pair_index.iter().flatten().copied().collect();
    let pairs = Array2::from_shape_vec((batch, 2), flat).map_err(bad)?;
    let outputs = session
        .run(ort::inputs![
            nio::INPUT_IDS => TensorRef::from_array_view(ids.view()).map_err(rt("ids"))?,
            nio::ATTENTION_MASK => TensorRef::from_array_view(mask.view()).map_err(rt("mask"))?,
            nio::PAIR_INDEX => TensorRef::from_array_view(pairs.view()).map_err(rt("pair index"))?,
        ])
        .map_err(rt("running the relation head"))?;
    let arr = outputs
        .get(nio::RELATION_LOGITS)
        .ok_or_else(|| {
            CragError::CorruptModel(format!("model has no output \"{}\"", nio::RELATION_LOGITS))
        })?
        .try_extract_array::<f32>()
        .map_err(rt(nio::RELATION_LOGITS))?;
    arr.into_dimensionality::<ndarray::Ix2>()
        .map(|a| a.to_owned())
        .map_err(|e| CragError::CorruptModel(format!("output {}: {e}", nio::RELATION_LOGITS)))
}

/// Extract relations among given mentions with an extractor graph (see
/// [`crate::ner::relate::extract_relations`]); `between` runs before every session call.
pub fn extract_relations(
    session: &mut Session,
    tok: &crate::text::TextTokenizer,
    cfg: &crate::ner::model::NerConfig,
    texts: &[&str],
    mentions: &[Vec<crate::ner::tagging::Mention>],
    batch: usize,
    mut between: impl FnMut() -> Result<()>,
) -> Result<Vec<Vec<crate::ner::relate::FoundRelation>>> {
    crate::ner::relate::extract_relations(
        tok,
        cfg,
        texts,
        mentions,
        batch,
        |ids, mask, idx, b, l| {
            between()?;
            run_relation_head(session, ids, mask, idx, b, l)
        },
    )
}
