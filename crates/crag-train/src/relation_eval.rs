//! `crag-train relation-eval`: the causality protocols of EVALUATION.md, scored **through the SQL function**
//! (`crag.crag_score_batch` of the active version of a relation model in a CRAG database), so the numbers are those
//! a user gets from the shipped graph, tokenizer and serving code.
//!
//! * BC5CDR **dev** CID with gold entities: every (chemical, disease) MeSH pair of an abstract's gold mentions, its
//!   context pairs by the nearest-sentence policy ([`crag_core::data::causality`]); a pair is predicted causal when
//!   any of its context pairs scores at or above the CID threshold the trainer chose on held-out training abstracts.
//! * ADE Corpus V2 hard protocol on the test PMIDs (split seed 42), at the ADE hard-protocol threshold.
//! * Indications: SIDER drug–indication pairs found in BC5CDR dev sentences and in ADE-NEG sentences of the ADE test
//!   PMIDs; the share scored at or above the model's threshold (lower is better).
//! * The relation model card's example pair and its indication twin.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::Args;
use crag_core::data::ade::{
    hard_protocol, read_ade_corpus, split_by_pmid, MentionDictionary, Split,
};
use crag_core::data::causality::{
    cid_pairs, cid_stats, flatten_contexts, indication_examples, max_per_pair, Bc5cdrSentences,
    IndicationLexicon, SearchSentence,
};
use crag_core::data::pubtator::{read_pubtator, BC5CDR_DEV};
use crag_core::data::sider;
use crag_core::metrics::{average_precision, f1_at, roc_auc};
use crag_core::{CragError, Result};
use postgres::{Client, NoTls};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::outputs::{to_json, write_json};
use crate::relation_train::{contexts, share_at};

/// Arguments of `crag-train relation-eval`.
#[derive(Debug, Args)]
pub struct RelationEval {
    /// Database with the crag extension, e.g. postgres://postgres@%2Fvar%2Frun%2Fpostgresql/crag_eval.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Registry name of the relation model (its active version is scored).
    #[arg(long, default_value = "relation")]
    pub model: String,
    /// ADE Corpus V2 folder.
    #[arg(
        long,
        env = "CRAG_ADE_DIR",
        default_value = "../shared/data/ade_corpus_v2"
    )]
    pub ade: PathBuf,
    /// BC5CDR folder (its development split is scored).
    #[arg(long, env = "CRAG_BC5CDR_DIR", default_value = "../shared/data/bc5cdr")]
    pub bc5cdr: PathBuf,
    /// SIDER 4.1 folder.
    #[arg(
        long,
        env = "CRAG_SIDER_DIR",
        default_value = "../shared/data/sider_4_1"
    )]
    pub sider: PathBuf,
    /// Context pairs per CID pair (nearest-sentence policy; as in training).
    #[arg(long, default_value_t = 3)]
    pub cid_contexts: usize,
    /// ADE Corpus V2 split seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Pairs per crag_score_batch call.
    #[arg(long, default_value_t = 1000)]
    pub chunk: usize,
    /// Write the report as JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Score only the first N BC5CDR dev abstracts (smoke tests; recorded in the report).
    #[arg(long)]
    pub max_abstracts: Option<usize>,
    /// Score only a seeded sample of N ADE test pairs (smoke tests; recorded in the report).
    #[arg(long)]
    pub max_ade_pairs: Option<usize>,
}

/// The card's example: a drug context and an ADR context from two sentences of one record.
pub const CARD_EXAMPLE: (&str, &str) = (
    "Patient was prescribed [DRUG]aspirin[/DRUG] for pain management.",
    "The patient experienced [ADR]gastrointestinal bleeding[/ADR].",
);
/// Its indication twin: the condition the drug was given for, resolved.
pub const CARD_TWIN: (&str, &str) = (
    "Patient was prescribed [DRUG]aspirin[/DRUG] for pain management.",
    "The patient's [ADR]pain[/ADR] resolved.",
);

/// A database error with its cause (the server's message), which `postgres::Error`'s own text leaves out.
fn db(what: &'static str) -> impl FnOnce(postgres::Error) -> CragError {
    move |e| {
        let cause = std::error::Error::source(&e).map_or(String::new(), |c| format!(": {c}"));
        CragError::Runtime(format!("{what}: {e}{cause}"))
    }
}

struct Scorer {
    client: Client,
    model: String,
    chunk: usize,
}

impl Scorer {
    /// P(causal) of every (drug context, ADR context) through `crag.crag_score_batch`.
    fn score(&mut self, what: &str, pairs: &[(String, String)]) -> Result<Vec<f64>> {
        let t0 = std::time::Instant::now();
        let mut out = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(self.chunk.max(1)) {
            let d: Vec<&str> = chunk.iter().map(|p| p.0.as_str()).collect();
            let a: Vec<&str> = chunk.iter().map(|p| p.1.as_str()).collect();
            let row = self
                .client
                .query_one(
                    "SELECT crag.crag_score_batch($1::text[], $2::text[], $3)",
                    &[&d, &a, &self.model],
                )
                .map_err(db("crag.crag_score_batch"))?;
            let p: Vec<Option<f64>> = row.get(0);
            out.extend(p.into_iter().map(|x| x.unwrap_or(f64::NAN)));
            eprintln!("{what}: {} / {} pairs scored", out.len(), pairs.len());
        }
        eprintln!(
            "{what}: {} pairs in {:.1} s",
            pairs.len(),
            t0.elapsed().as_secs_f64()
        );
        Ok(out)
    }
}

fn binary(p: &[f64], labels: &[bool], threshold: f64) -> Value {
    json!({
        "n": p.len(),
        "positives": labels.iter().filter(|&&l| l).count(),
        "threshold": threshold,
        "at_threshold": to_json(&f1_at(p, labels, threshold)),
        "roc_auc": roc_auc(p, labels),
        "pr_auc": average_precision(p, labels),
    })
}

/// Run every protocol; returns the report (also printed and, with `out`, written).
pub fn run(e: &RelationEval) -> Result<Value> {
    let mut client = Client::connect(&e.database_url, NoTls).map_err(db("connecting"))?;
    let row = client
        .query_opt(
            "SELECT version, sha256, config, metrics FROM crag.models WHERE name = $1 AND active",
            &[&e.model],
        )
        .map_err(db("reading crag.models (is the crag extension installed?)"))?
        .ok_or_else(|| CragError::invalid(format!("no active version of model {}", e.model)))?;
    let (version, sha): (i32, String) = (row.get(0), row.get(1));
    let (config, metrics): (Value, Value) = (row.get(2), row.get(3));
    let shared = config["threshold"].as_f64().unwrap_or(0.5);
    let t = &metrics["thresholds"];
    let cid_thr = t["cid"].as_f64().unwrap_or(shared);
    let hard_thr = t["ade_hard"]
        .as_f64()
        .or_else(|| metrics["test"]["hard"]["threshold"].as_f64())
        .unwrap_or(shared);
    eprintln!(
        "{} version {version} (sha256 {}…): thresholds CID {cid_thr:.3}, ADE hard {hard_thr:.3}, shared {shared:.3}",
        e.model,
        &sha[..12.min(sha.len())]
    );
    let mut s = Scorer {
        client,
        model: e.model.clone(),
        chunk: e.chunk,
    };
    let texts = |exs: &[crag_core::data::ade::RelationExample]| -> Result<Vec<(String, String)>> {
        exs.iter().map(contexts).collect()
    };

    // 1. BC5CDR dev CID, gold entities.
    let mut docs = read_pubtator(&e.bc5cdr.join(BC5CDR_DEV))?;
    docs.truncate(e.max_abstracts.unwrap_or(usize::MAX));
    let pairs = cid_pairs(&docs, e.cid_contexts);
    let (ctx, of) = flatten_contexts(&pairs);
    let p_ctx = s.score("BC5CDR dev CID contexts", &texts(&ctx)?)?;
    let p_pair = max_per_pair(&p_ctx, &of, pairs.len());
    let lab: Vec<bool> = pairs.iter().map(|p| p.label).collect();
    let gold_relations: usize = docs
        .iter()
        .map(|d| d.relations.iter().collect::<BTreeSet<_>>().len())
        .sum();
    let subset = |cross: bool| -> Value {
        let idx: Vec<usize> = (0..pairs.len())
            .filter(|&i| pairs[i].cross_sentence() == cross)
            .collect();
        let p: Vec<f64> = idx.iter().map(|&i| p_pair[i]).collect();
        let l: Vec<bool> = idx.iter().map(|&i| lab[i]).collect();
        binary(&p, &l, cid_thr)
    };
    let cid = json!({
        "data": cid_stats(&pairs),
        "gold_cid_relations": gold_relations,
        "context_policy": "nearest sentences, at most this many context pairs per pair",
        "contexts_per_pair": e.cid_contexts,
        "all": binary(&p_pair, &lab, cid_thr),
        "at_shared_threshold": binary(&p_pair, &lab, shared),
        "same_sentence_pairs": subset(false),
        "two_sentence_pairs": subset(true),
    });

    // 2. ADE Corpus V2 hard protocol, test PMIDs.
    let corpus = read_ade_corpus(&e.ade)?;
    let split = split_by_pmid(corpus.pmids(), e.seed, (0.8, 0.1, 0.1))?;
    let dict = MentionDictionary::from_corpus(&corpus, Some(split.pmids(Split::Train)));
    let mut hard = hard_protocol(&corpus, Some(split.pmids(Split::Test)), &dict);
    if let Some(n) = e.max_ade_pairs {
        hard.shuffle(&mut ChaCha8Rng::seed_from_u64(e.seed));
        hard.truncate(n);
    }
    let p_hard = s.score("ADE test hard protocol", &texts(&hard)?)?;
    let l_hard: Vec<bool> = hard.iter().map(|x| x.label).collect();
    let ade = json!({
        "at_ade_threshold": binary(&p_hard, &l_hard, hard_thr),
        "at_shared_threshold": binary(&p_hard, &l_hard, shared),
    });

    // 3. Indications: BC5CDR dev sentences, ADE-NEG sentences of the ADE test PMIDs.
    let inds = sider::read_indications(&e.sider.join("meddra_all_indications.tsv.gz"))?;
    let f = std::fs::File::open(e.sider.join("drug_names.tsv"))
        .map_err(|x| CragError::io("opening drug_names.tsv", x))?;
    let lex = IndicationLexicon::new(&inds, &sider::parse_drug_names(f)?);
    let annotated = corpus.annotated_pairs();
    let bc = Bc5cdrSentences::new(&docs).indication_examples(&lex, &annotated);
    let never = |_: (usize, usize), _: (usize, usize)| false;
    let test = split.pmids(Split::Test);
    let an = indication_examples(
        &lex,
        corpus
            .neg_sentences
            .iter()
            .filter(|n| test.contains(&n.pmid))
            .map(|n| SearchSentence {
                pmid: &n.pmid,
                sentence: &n.sentence,
                adverse: &never,
            }),
        &annotated,
    );
    let p_bc = s.score("indications in BC5CDR dev", &texts(&bc)?)?;
    let p_an = s.score("indications in ADE-NEG test", &texts(&an)?)?;
    let all: Vec<f64> = p_bc.iter().chain(&p_an).copied().collect();
    let indication = json!({
        "matching": "SIDER 4.1 drug names and indication terms (MedDRA PT, label concept name), case-insensitive whole words in one sentence; pairs annotated as adverse there skipped",
        "bc5cdr_dev": {"pairs": p_bc.len(), "share_at_or_above_shared_threshold": share_at(&p_bc, shared)},
        "ade_neg_test": {"pairs": p_an.len(), "share_at_or_above_shared_threshold": share_at(&p_an, shared)},
        "all": {"pairs": all.len(), "share_at_or_above_shared_threshold": share_at(&all, shared), "mean_p": all.iter().sum::<f64>() / all.len().max(1) as f64},
        "examples": bc.iter().chain(&an).zip(&all).take(12).map(|(x, p)| json!({"drug": x.drug, "indication": x.effect, "sentence": x.sentence, "p": p})).collect::<Vec<_>>(),
    });

    // 4. The card's example and its twin.
    let card = s.score(
        "card example and twin",
        &[
            (CARD_EXAMPLE.0.into(), CARD_EXAMPLE.1.into()),
            (CARD_TWIN.0.into(), CARD_TWIN.1.into()),
        ],
    )?;

    let report = json!({
        "model": e.model,
        "version": version,
        "sha256": sha,
        "route": "SQL: crag.crag_score_batch on the active version",
        "max_abstracts": e.max_abstracts,
        "max_ade_pairs": e.max_ade_pairs,
        "thresholds": {"cid": cid_thr, "ade_hard": hard_thr, "shared": shared},
        "bc5cdr_dev_cid_gold_entities": cid,
        "ade_test_hard": ade,
        "indications": indication,
        "card_example": {"drug_text": CARD_EXAMPLE.0, "adr_text": CARD_EXAMPLE.1, "p": card[0]},
        "card_twin": {"drug_text": CARD_TWIN.0, "adr_text": CARD_TWIN.1, "p": card[1]},
    });
    let f = |v: &Value| v.as_f64().map_or("-".into(), |x| format!("{x:.4}"));
    let c = &report["bc5cdr_dev_cid_gold_entities"]["all"];
    let h = &report["ade_test_hard"]["at_ade_threshold"];
    println!(
        "BC5CDR dev CID (gold entities, {} pairs, {} CID): P {} R {} F1 {} ROC-AUC {} (threshold {cid_thr:.3})",
        c["n"], c["positives"], f(&c["at_threshold"]["precision"]), f(&c["at_threshold"]["recall"]),
        f(&c["at_threshold"]["f1"]), f(&c["roc_auc"])
    );
    for (name, key) in [
        ("  one-sentence pairs", "same_sentence_pairs"),
        ("  two-sentence pairs", "two_sentence_pairs"),
    ] {
        let x = &report["bc5cdr_dev_cid_gold_entities"][key];
        println!(
            "{name}: {} pairs, {} CID: P {} R {} F1 {}",
            x["n"],
            x["positives"],
            f(&x["at_threshold"]["precision"]),
            f(&x["at_threshold"]["recall"]),
            f(&x["at_threshold"]["f1"])
        );
    }
    println!(
        "ADE Corpus V2 test hard protocol ({} pairs): P {} R {} F1 {} ROC-AUC {} (threshold {hard_thr:.3})",
        h["n"], f(&h["at_threshold"]["precision"]), f(&h["at_threshold"]["recall"]),
        f(&h["at_threshold"]["f1"]), f(&h["roc_auc"])
    );
    let i = &report["indications"];
    println!(
        "Indication pairs scored >= {shared:.3}: {} of {} (BC5CDR dev {} of {}, ADE-NEG test {} of {})",
        f(&i["all"]["share_at_or_above_shared_threshold"]), i["all"]["pairs"],
        f(&i["bc5cdr_dev"]["share_at_or_above_shared_threshold"]), i["bc5cdr_dev"]["pairs"],
        f(&i["ade_neg_test"]["share_at_or_above_shared_threshold"]), i["ade_neg_test"]["pairs"]
    );
    println!(
        "card example {:.4}, its indication twin {:.4}",
        card[0], card[1]
    );
    if let Some(path) = &e.out {
        write_json(path, &report)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(report)
}
