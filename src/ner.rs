//! SQL entry points for medical NER/RE: entity extraction with the trained NER model (`crag_extract_entities` and
//! its batch form), relation extraction with its relation head (`crag_extract_relations` and its batch form), seeded
//! synthetic clinical notes (`crag_synth_notes`) and the evaluation of predicted
//! annotations against gold ones (`crag_ner_evaluate`). The logic is crag-core's
//! `ner` module; the JSON layout is the NER/RE guide's (entities `{id, text, type, start, end}` with
//! character offsets, relations `{type, head, tail}` with full entity objects).

use crag_core::ner::relate::FoundRelation;
use crag_core::ner::synth::{Generator, GeneratorConfig};
use crag_core::ner::tagging::Mention;
use crag_core::ner::{evaluate, Document, MatchMode};
use crag_core::runtime::{extract_entities, extract_relations};
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::error::{OrRaise, PgError, PgResult};
use crate::gucs;
use crate::registry::with_model;

/// Most notes one call may generate.
const MAX_NOTES: i32 = 100_000;

/// jsonb of a serialisable value (documents and reports always serialise: string keys, finite numbers).
macro_rules! to_jsonb {
    ($v:expr) => {
        JsonB(serde_json::to_value($v).expect("annotations serialise"))
    };
}

/// `n` synthetic clinical notes (1..=100000) from `seed`, with their entities and relations as jsonb arrays.
/// Deterministic: the same `(n, seed)` gives the same rows, and the same notes as
/// `crag-train synth --n N --seed S` for a non-negative seed (a negative seed is taken as its 64-bit two's
/// complement). `doc_id` is 1-based.
#[allow(clippy::type_complexity)]
#[pg_extern(immutable, strict, parallel_safe)]
fn crag_synth_notes(
    n: i32,
    seed: default!(i32, 42),
) -> TableIterator<
    'static,
    (
        name!(doc_id, i32),
        name!(text, String),
        name!(entities, JsonB),
        name!(relations, JsonB),
    ),
> {
    if !(1..=MAX_NOTES).contains(&n) {
        PgError::invalid(format!("n must be between 1 and {MAX_NOTES}, got {n}")).raise();
    }
    let generator = Generator::new(i64::from(seed) as u64, GeneratorConfig::default()).or_raise();
    TableIterator::new(generator.take(n as usize).enumerate().map(|(i, d)| {
        let entities = to_jsonb!(&d.entities);
        let relations = to_jsonb!(&d.relations);
        (i as i32 + 1, d.text, entities, relations)
    }))
}

/// Documents from a jsonb array of documents or a single document object.
fn documents(what: &str, value: serde_json::Value) -> PgResult<Vec<Document>> {
    let parsed = match value {
        serde_json::Value::Array(_) => serde_json::from_value(value),
        serde_json::Value::Object(_) => serde_json::from_value(value).map(|d| vec![d]),
        other => {
            return Err(PgError::invalid(format!(
                "{what} must be a document object or an array of documents, got {}",
                match other {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Number(_) => "a number",
                    _ => "a string",
                }
            )))
        }
    };
    parsed.map_err(|e| PgError::invalid(format!("{what}: {e}")))
}

/// Precision, recall and F1 (per type, micro, macro) of predicted entities and relations against gold ones.
/// `gold` and `pred` are a document or an array of documents (paired by `id`, else by position); `mode` is
/// the entity matching: `exact` (span and type), `partial` (overlap and type) or `type` (span only).
/// Relations are scored strict and lenient whatever the mode.
#[pg_extern(immutable, strict, parallel_safe)]
fn crag_ner_evaluate(gold: JsonB, pred: JsonB, mode: default!(&str, "'exact'")) -> JsonB {
    let mode: MatchMode = mode.parse().or_raise();
    let gold = documents("gold", gold.0).or_raise();
    let pred = documents("pred", pred.0).or_raise();
    to_jsonb!(&evaluate(&gold, &pred, mode).or_raise())
}

/// Extract entities from texts with the active version of NER model `model`, `crag.batch_size` windows per ONNX
/// Runtime call, checking for query cancel between calls.
fn extract(model: &str, texts: &[&str]) -> PgResult<Vec<Vec<Mention>>> {
    let batch = gucs::batch_size();
    with_model(model, "ner", |m| {
        let assets = m
            .ner
            .as_ref()
            .ok_or_else(|| PgError::invalid("not an NER model"))?;
        Ok(extract_entities(
            &mut m.session,
            &assets.tokenizer,
            &assets.cfg,
            &assets.refiner,
            texts,
            batch,
            || {
                pgrx::check_for_interrupts!();
                Ok(())
            },
        )?)
    })
}

fn non_blank(arg: &str, text: &str) -> PgResult<()> {
    if text.trim().is_empty() {
        Err(PgError::invalid(format!("{arg} is empty")))
    } else {
        Ok(())
    }
}

/// The non-NULL elements of a text array (0-based positions and texts); an empty element is an error naming its
/// 1-based position.
fn present_texts(texts: &[Option<String>]) -> PgResult<(Vec<usize>, Vec<&str>)> {
    let mut present = Vec::new();
    let mut refs = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        if let Some(t) = t {
            non_blank(&format!("texts[{}]", i + 1), t)?;
            present.push(i);
            refs.push(t.as_str());
        }
    }
    Ok((present, refs))
}

fn int(v: usize) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Entities in `text` found by the active version of the NER model `model`: one row per mention with **char**
/// offsets (Unicode characters, 0-based `start_pos`, `end_pos` exclusive: `substr(text, start_pos + 1,
/// end_pos - start_pos) = mention`), its type (Disease, Symptom, Drug, Procedure, Lab_Test) and score (mean
/// probability of its word pieces' labels). Texts of any length: longer than the model's window they are split into
/// overlapping windows. An empty text is an error (22023).
#[allow(clippy::type_complexity)]
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn crag_extract_entities(
    text: &str,
    model: default!(&str, "'ner'"),
) -> TableIterator<
    'static,
    (
        name!(start_pos, i32),
        name!(end_pos, i32),
        name!(mention, String),
        name!(entity_type, String),
        name!(score, f64),
    ),
> {
    non_blank("text", text).or_raise();
    let found = extract(model, &[text]).or_raise();
    TableIterator::new(found.into_iter().flatten().map(|m| {
        (
            int(m.start),
            int(m.end),
            m.text,
            m.entity_type.to_string(),
            m.score,
        )
    }))
}

/// `crag_extract_entities` over an array of texts, windows of all texts batched together; `doc` is the 1-based
/// array position. NULL elements give no rows; an empty element is an error naming it.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, strict, parallel_safe, cost = 100000)]
fn crag_extract_entities_batch(
    texts: Vec<Option<String>>,
    model: default!(&str, "'ner'"),
) -> TableIterator<
    'static,
    (
        name!(doc, i32),
        name!(start_pos, i32),
        name!(end_pos, i32),
        name!(mention, String),
        name!(entity_type, String),
        name!(score, f64),
    ),
> {
    let (present, refs) = present_texts(&texts).or_raise();
    let found = if refs.is_empty() {
        vec![]
    } else {
        extract(model, &refs).or_raise()
    };
    let rows: Vec<_> = present
        .into_iter()
        .zip(found)
        .flat_map(|(i, ms)| {
            ms.into_iter().map(move |m| {
                (
                    int(i + 1),
                    int(m.start),
                    int(m.end),
                    m.text,
                    m.entity_type.to_string(),
                    m.score,
                )
            })
        })
        .collect();
    TableIterator::new(rows)
}

/// Entities, then relations among them, of texts with the active version of extractor `model` (an NER model
/// with a relation head), `crag.batch_size` rows per ONNX Runtime call, checking for query cancel between calls.
fn relations(model: &str, texts: &[&str]) -> PgResult<Vec<Vec<FoundRelation>>> {
    let batch = gucs::batch_size();
    with_model(model, "ner", |m| {
        let assets = m
            .ner
            .as_ref()
            .ok_or_else(|| PgError::invalid("not an NER model"))?;
        if assets.cfg.relations.is_none() {
            return Err(PgError::new(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("NER model \"{model}\" has no relation head"),
            )
            .hint("train one with crag-train ner --relations, or use crag_extract_entities"));
        }
        let cancel = || {
            pgrx::check_for_interrupts!();
            Ok(())
        };
        let mentions = extract_entities(
            &mut m.session,
            &assets.tokenizer,
            &assets.cfg,
            &assets.refiner,
            texts,
            batch,
            cancel,
        )?;
        Ok(extract_relations(
            &mut m.session,
            &assets.tokenizer,
            &assets.cfg,
            texts,
            &mentions,
            batch,
            cancel,
        )?)
    })
}

/// One output row of the relation functions.
type RelationRow = (
    String,
    String,
    String,
    String,
    String,
    f64,
    i32,
    i32,
    i32,
    i32,
);

fn relation_row(r: FoundRelation) -> RelationRow {
    (
        r.head.text,
        r.head.entity_type.to_string(),
        r.relation.to_string(),
        r.tail.text,
        r.tail.entity_type.to_string(),
        f64::from(r.score),
        int(r.head.start),
        int(r.head.end),
        int(r.tail.start),
        int(r.tail.end),
    )
}

/// Relations in `text` found by the active version of extractor `model`: its entities
/// (`crag_extract_entities`), then every pair of them that some relation type allows (treats: Drug → Disease;
/// causes: Disease → Symptom; indicates: Lab_Test/Symptom → Disease; prevents: Drug/Procedure → Disease;
/// adverse_effect: Drug → Disease/Symptom) within a few consecutive sentences, classified by the model's relation
/// head. One row per relation whose probability reaches the model's threshold, with the mentions' char offsets
/// (0-based start, exclusive end, as in `crag_extract_entities`). An empty text is an error (22023); a model
/// without a relation head is 0A000.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, strict, parallel_safe, cost = 20000)]
fn crag_extract_relations(
    text: &str,
    model: default!(&str, "'ner'"),
) -> TableIterator<
    'static,
    (
        name!(head, String),
        name!(head_type, String),
        name!(relation, String),
        name!(tail, String),
        name!(tail_type, String),
        name!(score, f64),
        name!(head_start, i32),
        name!(head_end, i32),
        name!(tail_start, i32),
        name!(tail_end, i32),
    ),
> {
    non_blank("text", text).or_raise();
    let found = relations(model, &[text]).or_raise();
    TableIterator::new(found.into_iter().flatten().map(relation_row))
}

/// `crag_extract_relations` over an array of texts, batched together; `doc` is the 1-based array position. NULL
/// elements give no rows; an empty element is an error naming it.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, strict, parallel_safe, cost = 200000)]
fn crag_extract_relations_batch(
    texts: Vec<Option<String>>,
    model: default!(&str, "'ner'"),
) -> TableIterator<
    'static,
    (
        name!(doc, i32),
        name!(head, String),
        name!(head_type, String),
        name!(relation, String),
        name!(tail, String),
        name!(tail_type, String),
        name!(score, f64),
        name!(head_start, i32),
        name!(head_end, i32),
        name!(tail_start, i32),
        name!(tail_end, i32),
    ),
> {
    let (present, refs) = present_texts(&texts).or_raise();
    let found = if refs.is_empty() {
        vec![]
    } else {
        relations(model, &refs).or_raise()
    };
    let rows: Vec<_> = present
        .into_iter()
        .zip(found)
        .flat_map(|(i, rs)| {
            rs.into_iter().map(move |r| {
                let (h, ht, rel, t, tt, sc, hs, he, ts, te) = relation_row(r);
                (int(i + 1), h, ht, rel, t, tt, sc, hs, he, ts, te)
            })
        })
        .collect();
    TableIterator::new(rows)
}
