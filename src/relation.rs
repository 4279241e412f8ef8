//! SQL entry points of the relation model: `crag_score`, `crag_score_sentence` and their batch forms.

use crag_core::relation::{find_mention, sentence_contexts};
use crag_core::runtime::score_relation_pairs;
use pgrx::prelude::*;

use crate::error::{OrRaise, PgError, PgResult};
use crate::gucs;
use crate::registry::with_model;

const KIND: &str = "relation";

/// Score context pairs with the active version of `model`, `crag.batch_size` pairs per ONNX Runtime call,
/// checking for query cancel between calls.
fn score(model: &str, drugs: &[&str], adrs: &[&str]) -> PgResult<Vec<f32>> {
    let batch = gucs::batch_size();
    with_model(model, KIND, |m| {
        let tok = &m
            .relation
            .as_ref()
            .ok_or_else(|| PgError::invalid("not a relation model"))?
            .tokenizer;
        Ok(score_relation_pairs(
            &mut m.session,
            tok,
            drugs,
            adrs,
            batch,
            || {
                pgrx::check_for_interrupts!();
                Ok(())
            },
        )?)
    })
}

fn non_empty(arg: &str, text: &str) -> PgResult<()> {
    if text.trim().is_empty() {
        let hint = if arg.starts_with("adr") {
            "Pass the text around the reaction, e.g. the sentence with it marked as [ADR] … [/ADR]."
        } else if arg.starts_with("drug") {
            "Pass the text around the drug, e.g. the sentence with it marked as [DRUG] … [/DRUG]."
        } else {
            "Pass the sentence that mentions both the drug and the reaction."
        };
        Err(PgError::invalid(format!("{arg} is empty")).hint(hint))
    } else {
        Ok(())
    }
}

/// The drug and ADR contexts of one sentence; a mention that does not occur is an error naming it.
fn sentence_pair(arg: &str, sentence: &str, drug: &str, adr: &str) -> PgResult<(String, String)> {
    non_empty(&format!("sentence{arg}"), sentence)?;
    non_empty(&format!("drug{arg}"), drug)?;
    non_empty(&format!("adr{arg}"), adr)?;
    let find = |what: &str, mention: &str| {
        find_mention(sentence, mention).ok_or_else(|| {
            PgError::invalid(format!(
                "{what}{arg} \"{}\" does not occur in the sentence",
                mention.trim()
            ))
            .detail(format!("sentence{arg}: {sentence}"))
            .hint("Mentions are matched case-insensitively, preferring whole words.")
        })
    };
    let d = find("drug", drug)?;
    let a = find("adr", adr)?;
    Ok(sentence_contexts(sentence, d, a)?)
}

/// P(causal) that the drug in `drug_text` and the reaction in `adr_text` are causally related, from the active
/// version of the relation model `model`. The two contexts may be one sentence or two (e.g. a drug column and an
/// event column from different sentences of one record). Mark the mentions (`[DRUG] … [/DRUG]`, `[ADR] … [/ADR]`)
/// for best results; unmarked texts are encoded as given. A text longer than the model's `max_len` word pieces keeps
/// the window centred on its markers (its start when unmarked).
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn crag_score(drug_text: &str, adr_text: &str, model: default!(&str, "'relation'")) -> f64 {
    non_empty("drug_text", drug_text).or_raise();
    non_empty("adr_text", adr_text).or_raise();
    score(model, &[drug_text], &[adr_text]).or_raise()[0] as f64
}

/// P(causal) for a drug and a reaction mentioned in one sentence: both mentions are located (case-insensitive,
/// whole words preferred), marked, and the two contexts built from the sentence.
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn crag_score_sentence(
    sentence: &str,
    drug: &str,
    adr: &str,
    model: default!(&str, "'relation'"),
) -> f64 {
    let (d, a) = sentence_pair("", sentence, drug, adr).or_raise();
    score(model, &[&d], &[&a]).or_raise()[0] as f64
}

fn same_len(names: &[&str], lens: &[usize]) -> PgResult<()> {
    if lens.windows(2).any(|w| w[0] != w[1]) {
        let parts: Vec<String> = names
            .iter()
            .zip(lens)
            .map(|(n, l)| format!("{n} has {l}"))
            .collect();
        return Err(PgError::invalid(format!(
            "array lengths differ: {}; elements are paired by position",
            parts.join(", ")
        )));
    }
    Ok(())
}

/// Scores for index positions where every input is present; NULL where any is NULL.
fn scatter(n: usize, present: &[usize], scores: Vec<f32>) -> Vec<Option<f64>> {
    let mut out = vec![None; n];
    for (&i, s) in present.iter().zip(scores) {
        out[i] = Some(s as f64);
    }
    out
}

/// `crag_score` over two arrays paired by position (e.g. `array_agg(drug_ctx ORDER BY id)`), one ONNX Runtime
/// call per `crag.batch_size` pairs; a NULL element gives a NULL score.
#[pg_extern(stable, strict, parallel_safe, cost = 100000)]
fn crag_score_batch(
    drug_texts: Vec<Option<String>>,
    adr_texts: Vec<Option<String>>,
    model: default!(&str, "'relation'"),
) -> Vec<Option<f64>> {
    same_len(
        &["drug_texts", "adr_texts"],
        &[drug_texts.len(), adr_texts.len()],
    )
    .or_raise();
    let mut present = Vec::new();
    let (mut d, mut a) = (Vec::new(), Vec::new());
    for (i, (x, y)) in drug_texts.iter().zip(&adr_texts).enumerate() {
        if let (Some(x), Some(y)) = (x, y) {
            non_empty(&format!("drug_texts[{}]", i + 1), x).or_raise();
            non_empty(&format!("adr_texts[{}]", i + 1), y).or_raise();
            present.push(i);
            d.push(x.as_str());
            a.push(y.as_str());
        }
    }
    if present.is_empty() {
        return vec![None; drug_texts.len()];
    }
    let scores = score(model, &d, &a).or_raise();
    scatter(drug_texts.len(), &present, scores)
}

/// `crag_score_sentence` over three arrays paired by position; a NULL element gives a NULL score.
#[pg_extern(stable, strict, parallel_safe, cost = 100000)]
fn crag_score_sentence_batch(
    sentences: Vec<Option<String>>,
    drugs: Vec<Option<String>>,
    adrs: Vec<Option<String>>,
    model: default!(&str, "'relation'"),
) -> Vec<Option<f64>> {
    same_len(
        &["sentences", "drugs", "adrs"],
        &[sentences.len(), drugs.len(), adrs.len()],
    )
    .or_raise();
    let mut present = Vec::new();
    let (mut d, mut a) = (Vec::new(), Vec::new());
    for (i, ((s, x), y)) in sentences.iter().zip(&drugs).zip(&adrs).enumerate() {
        if let (Some(s), Some(x), Some(y)) = (s, x, y) {
            let (dc, ac) = sentence_pair(&format!("s[{}]", i + 1), s, x, y).or_raise();
            present.push(i);
            d.push(dc);
            a.push(ac);
        }
    }
    if present.is_empty() {
        return vec![None; sentences.len()];
    }
    let dr: Vec<&str> = d.iter().map(String::as_str).collect();
    let ar: Vec<&str> = a.iter().map(String::as_str).collect();
    let scores = score(model, &dr, &ar).or_raise();
    scatter(sentences.len(), &present, scores)
}
