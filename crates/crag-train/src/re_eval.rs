//! Relation-extraction evaluation of an extractor (NER + relation head), for `crag-train extract-eval` (through
//! ONNX Runtime, the shipped graph) and for model selection during training (through tch).
//!
//! * **BC5CDR CID** (document level, as BioCreative V): a predicted `adverse_effect` between a chemical and a
//!   disease mention yields the pairs of their MeSH ids; the document's predicted id pairs are compared with its CID
//!   relations. *Gold entities*: the annotated mentions and ids. *End to end*: predicted mentions, normalised to ids
//!   by a lexicon of the **training** abstracts (lower-cased mention → most frequent id; unknown mentions get none).
//! * **ADE Corpus V2** (sentence level, test PMIDs): predicted `adverse_effect` pairs compared with annotated
//!   (drug span, effect span) pairs, exact spans. *Gold entities*: the annotated mentions. *Predicted entities*: the
//!   model's Drug and Disease/Symptom mentions, with the test split's ADE-NEG sentences added (they hold no relation).
//! * **Synthetic notes** (held-out seed): [`crag_core::ner::evaluate`] with relations strict and lenient.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use crag_core::data::ade::AdeSentence;
use crag_core::data::pubtator::PubtatorDoc;
use crag_core::ner::boundary::BoundaryModel;
use crag_core::ner::eval::ScoreTable;
use crag_core::ner::model::NerConfig;
use crag_core::ner::refine::{
    build_exclusions, build_lexicon_with_terms, name_priors, LexiconRules, Refine, Refiner,
    Terminology,
};
use crag_core::ner::relate::{self, FoundRelation, Scored};
use crag_core::ner::schema::{Document, Entity, EntityType, Relation, RelationType};
use crag_core::ner::tagging::{self, Decoding, Mention};
use crag_core::ner::{evaluate, EvalReport, MatchMode};
use crag_core::runtime::Session;
use crag_core::text::TextTokenizer;
use crag_core::{CragError, Result};
use ndarray::{Array2, Array3};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::ner_model::NerNet;
use crate::re_data::{ade_mentions, bc5cdr_mentions, mention_of};

/// An extractor to evaluate: entity logits and relation logits for padded batches.
pub trait Extractor {
    /// Architecture (labels, windows, relation head).
    fn cfg(&self) -> &NerConfig;
    /// Token logits `[b, l, n_labels]`.
    fn token_logits(
        &mut self,
        ids: &[i64],
        mask: &[i64],
        b: usize,
        l: usize,
    ) -> Result<Array3<f32>>;
    /// Relation logits `[b, n_relation_labels]`.
    fn relation_logits(
        &mut self,
        ids: &[i64],
        mask: &[i64],
        pairs: &[[i64; 2]],
        b: usize,
        l: usize,
    ) -> Result<Array2<f32>>;
}

/// The shipped graph through ONNX Runtime.
pub struct OrtExtractor {
    /// Session of the extractor graph.
    pub session: Session,
    /// Its config.
    pub cfg: NerConfig,
}

impl Extractor for OrtExtractor {
    fn cfg(&self) -> &NerConfig {
        &self.cfg
    }
    fn token_logits(
        &mut self,
        ids: &[i64],
        mask: &[i64],
        b: usize,
        l: usize,
    ) -> Result<Array3<f32>> {
        crag_core::runtime::run_ner(&mut self.session, ids, mask, b, l)
    }
    fn relation_logits(
        &mut self,
        ids: &[i64],
        mask: &[i64],
        pairs: &[[i64; 2]],
        b: usize,
        l: usize,
    ) -> Result<Array2<f32>> {
        crag_core::runtime::run_relation_head(&mut self.session, ids, mask, pairs, b, l)
    }
}

/// The network being trained (eval mode, no gradient).
pub struct TchExtractor<'a> {
    /// Network.
    pub net: &'a NerNet,
    /// Its device.
    pub device: Device,
}

fn to_tensor(v: &[i64], shape: [i64; 2], device: Device) -> Tensor {
    Tensor::from_slice(v).reshape(shape).to_device(device)
}

fn to_vec(t: Tensor) -> Result<Vec<f32>> {
    let t = t.to_device(Device::Cpu).to_kind(Kind::Float).reshape([-1]);
    Vec::<f32>::try_from(&t).map_err(|e| CragError::Runtime(format!("logits: {e}")))
}

impl Extractor for TchExtractor<'_> {
    fn cfg(&self) -> &NerConfig {
        &self.net.cfg
    }
    fn token_logits(
        &mut self,
        ids: &[i64],
        mask: &[i64],
        b: usize,
        l: usize,
    ) -> Result<Array3<f32>> {
        crate::ner_train::tch_logits(self.net, ids, mask, b, l, self.device)
    }
    fn relation_logits(
        &mut self,
        ids: &[i64],
        mask: &[i64],
        pairs: &[[i64; 2]],
        b: usize,
        l: usize,
    ) -> Result<Array2<f32>> {
        let shape = [b as i64, l as i64];
        let flat: Vec<i64> = pairs.iter().flatten().copied().collect();
        let out = tch::no_grad(|| {
            self.net.relation_logits(
                &to_tensor(ids, shape, self.device),
                &to_tensor(mask, shape, self.device),
                &to_tensor(&flat, [b as i64, 2], self.device),
                false,
                0.0,
            )
        });
        let v = to_vec(out)?;
        let k = v.len() / b.max(1);
        Array2::from_shape_vec((b, k), v).map_err(|e| CragError::Runtime(format!("logits: {e}")))
    }
}

/// Mentions of every text.
pub fn entities<E: Extractor>(
    ex: &mut E,
    tok: &TextTokenizer,
    texts: &[&str],
    batch: usize,
) -> Result<Vec<Vec<Mention>>> {
    let cfg = ex.cfg().clone();
    tagging::extract(tok, &cfg, texts, batch, |i, m, b, l| {
        ex.token_logits(i, m, b, l)
    })
}

/// Scored candidate pairs of every text.
pub fn score<E: Extractor>(
    ex: &mut E,
    tok: &TextTokenizer,
    texts: &[&str],
    mentions: &[Vec<Mention>],
    batch: usize,
) -> Result<Vec<Vec<Scored>>> {
    let cfg = ex.cfg().clone();
    relate::score_candidates(tok, &cfg, texts, mentions, batch, |i, m, p, b, l| {
        ex.relation_logits(i, m, p, b, l)
    })
}

/// Precision, recall and F1 from counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Prf {
    /// Gold items.
    pub gold: usize,
    /// Predicted items.
    pub pred: usize,
    /// Correct predictions.
    pub tp: usize,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
}

impl Prf {
    /// From counts (0 for empty ratios).
    pub fn new(gold: usize, pred: usize, tp: usize) -> Self {
        let r = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (p, rc) = (r(tp, pred), r(tp, gold));
        let f1 = if p + rc == 0.0 {
            0.0
        } else {
            2.0 * p * rc / (p + rc)
        };
        Prf {
            gold,
            pred,
            tp,
            precision: p,
            recall: rc,
            f1,
        }
    }

    /// Add a document's sets.
    pub fn of_sets<T: Eq + std::hash::Hash>(
        gold: &HashSet<T>,
        pred: &HashSet<T>,
    ) -> (usize, usize, usize) {
        (gold.len(), pred.len(), pred.intersection(gold).count())
    }
}

fn sum(parts: &[(usize, usize, usize)]) -> Prf {
    let (g, p, t) = parts
        .iter()
        .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    Prf::new(g, p, t)
}

/// Index of `adverse_effect` among the head's labels.
fn adverse_label(cfg: &NerConfig) -> Result<usize> {
    cfg.relation_head()?
        .relation_types()?
        .iter()
        .position(|&r| r == RelationType::AdverseEffect)
        .map(|i| i + 1)
        .ok_or_else(|| CragError::invalid("the relation head has no adverse_effect label"))
}

/// Candidates decided as `adverse_effect` (head → tail mention indices).
fn adverse_pairs(cfg: &NerConfig, scored: &[Scored]) -> Result<Vec<(usize, usize)>> {
    let ae = adverse_label(cfg)?;
    let threshold = cfg.relations.as_ref().map_or(0.5, |r| r.threshold);
    Ok(scored
        .iter()
        .filter(|s| relate::decide(&s.probs, threshold).is_some_and(|(l, _)| l == ae))
        .map(|s| (s.candidate.head, s.candidate.tail))
        .collect())
}

/// Lower-cased mention text → most frequent MeSH id, from training abstracts.
pub fn mesh_lexicon(docs: &[PubtatorDoc]) -> HashMap<(EntityType, String), String> {
    let mut counts: HashMap<(EntityType, String), BTreeMap<String, usize>> = HashMap::new();
    for d in docs {
        for (m, ids) in bc5cdr_mentions(d) {
            if ids.len() == 1 {
                *counts
                    .entry((m.entity_type, m.text.to_lowercase()))
                    .or_default()
                    .entry(ids[0].clone())
                    .or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .filter_map(|(k, v)| {
            v.into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(id, _)| (k, id))
        })
        .collect()
}

/// CID results.
#[derive(Debug, Clone, Serialize)]
pub struct CidReport {
    /// Documents.
    pub documents: usize,
    /// With gold mentions and ids.
    pub gold_entities: Prf,
    /// With predicted mentions normalised by the training lexicon (absent when not run).
    pub end_to_end: Option<Prf>,
    /// Gold CID pairs with at least one candidate mention pair (the recall ceiling of the pair classifier).
    pub reachable: usize,
}

/// The relation threshold (of `candidates`, step 0.05 within 0.3..=0.95) with the best document-level CID F1 on
/// `docs` with gold entities, and that F1. Used on abstracts held out of the relation training data.
pub fn tune_cid_threshold<E: Extractor>(
    ex: &mut E,
    tok: &TextTokenizer,
    docs: &[PubtatorDoc],
    batch: usize,
) -> Result<(f64, f64)> {
    let cfg = ex.cfg().clone();
    let ae = adverse_label(&cfg)?;
    let texts: Vec<String> = docs.iter().map(|d| d.text()).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let gold_ms: Vec<Vec<(Mention, Vec<String>)>> = docs.iter().map(bc5cdr_mentions).collect();
    let mentions: Vec<Vec<Mention>> = gold_ms
        .iter()
        .map(|v| v.iter().map(|(m, _)| m.clone()).collect())
        .collect();
    let scored = score(ex, tok, &refs, &mentions, batch)?;
    let mut best = (0.5f64, -1.0f64);
    for step in 6..=19 {
        let th = f64::from(step) / 20.0;
        let mut parts = Vec::new();
        for (i, s) in scored.iter().enumerate() {
            let gold: HashSet<(String, String)> = docs[i].relations.iter().cloned().collect();
            let mut pred = HashSet::new();
            for sc in s {
                if relate::decide(&sc.probs, th).is_some_and(|(l, _)| l == ae) {
                    for c in &gold_ms[i][sc.candidate.head].1 {
                        for d in &gold_ms[i][sc.candidate.tail].1 {
                            pred.insert((c.clone(), d.clone()));
                        }
                    }
                }
            }
            parts.push(Prf::of_sets(&gold, &pred));
        }
        let f1 = sum(&parts).f1;
        if f1 > best.1 {
            best = (th, f1);
        }
    }
    Ok(best)
}

/// BC5CDR CID, document level (see the module notes). `lexicon = None` skips the end-to-end run.
pub fn cid_eval<E: Extractor>(
    ex: &mut E,
    tok: &TextTokenizer,
    docs: &[PubtatorDoc],
    lexicon: Option<&HashMap<(EntityType, String), String>>,
    batch: usize,
) -> Result<CidReport> {
    let cfg = ex.cfg().clone();
    let head = cfg.relation_head()?.clone();
    let texts: Vec<String> = docs.iter().map(|d| d.text()).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let gold_ms: Vec<Vec<(Mention, Vec<String>)>> = docs.iter().map(bc5cdr_mentions).collect();
    let mentions: Vec<Vec<Mention>> = gold_ms
        .iter()
        .map(|v| v.iter().map(|(m, _)| m.clone()).collect())
        .collect();
    let gold_sets: Vec<HashSet<(String, String)>> = docs
        .iter()
        .map(|d| d.relations.iter().cloned().collect())
        .collect();
    let id_pairs = |ids: &[Vec<String>], pairs: &[(usize, usize)]| -> HashSet<(String, String)> {
        let mut out = HashSet::new();
        for &(h, t) in pairs {
            for c in &ids[h] {
                for d in &ids[t] {
                    out.insert((c.clone(), d.clone()));
                }
            }
        }
        out
    };
    let scored = score(ex, tok, &refs, &mentions, batch)?;
    let mut parts = Vec::new();
    let mut reachable = 0;
    for (i, s) in scored.iter().enumerate() {
        let ids: Vec<Vec<String>> = gold_ms[i].iter().map(|(_, v)| v.clone()).collect();
        let all: Vec<(usize, usize)> = relate::candidates(&texts[i], &mentions[i], &head)?
            .iter()
            .map(|c| (c.head, c.tail))
            .collect();
        reachable += id_pairs(&ids, &all).intersection(&gold_sets[i]).count();
        let pred = id_pairs(&ids, &adverse_pairs(&cfg, s)?);
        parts.push(Prf::of_sets(&gold_sets[i], &pred));
    }
    let end_to_end = match lexicon {
        None => None,
        Some(lex) => {
            let found = entities(ex, tok, &refs, batch)?;
            let found: Vec<Vec<Mention>> = found
                .into_iter()
                .map(|v| {
                    v.into_iter()
                        .filter(|m| {
                            matches!(
                                m.entity_type,
                                EntityType::Drug | EntityType::Disease | EntityType::Symptom
                            )
                        })
                        .map(|mut m| {
                            if m.entity_type == EntityType::Symptom {
                                m.entity_type = EntityType::Disease;
                            }
                            m
                        })
                        .collect()
                })
                .collect();
            let scored = score(ex, tok, &refs, &found, batch)?;
            let mut parts = Vec::new();
            for (i, s) in scored.iter().enumerate() {
                let ids: Vec<Vec<String>> = found[i]
                    .iter()
                    .map(|m| {
                        lex.get(&(m.entity_type, m.text.to_lowercase()))
                            .cloned()
                            .into_iter()
                            .collect()
                    })
                    .collect();
                let pred = id_pairs(&ids, &adverse_pairs(&cfg, s)?);
                parts.push(Prf::of_sets(&gold_sets[i], &pred));
            }
            Some(sum(&parts))
        }
    };
    Ok(CidReport {
        documents: docs.len(),
        gold_entities: sum(&parts),
        end_to_end,
        reachable,
    })
}

/// ADE Corpus V2 results.
#[derive(Debug, Clone, Serialize)]
pub struct AdeReport {
    /// Relation sentences.
    pub sentences: usize,
    /// ADE-NEG sentences added to the predicted-entity run.
    pub negative_sentences: usize,
    /// With the annotated mentions.
    pub gold_entities: Prf,
    /// With predicted mentions (exact spans).
    pub predicted_entities: Prf,
    /// The predicted-entity run per sentence (relation sentences, then ADE-NEG ones), for `--ade-predictions`.
    #[serde(skip)]
    pub pairs: Vec<AdePairs>,
}

/// Gold and predicted (drug, effect) pairs of one sentence of the predicted-entity ADE run.
#[derive(Debug, Clone, Serialize)]
pub struct AdePairs {
    /// The sentence.
    pub text: String,
    /// An ADE-NEG sentence (no annotated pair).
    pub negative: bool,
    /// Annotated pairs: char spans and texts of the drug and the effect.
    pub gold: Vec<[(usize, usize, String); 2]>,
    /// Predicted adverse_effect pairs, the same way.
    pub predicted: Vec<[(usize, usize, String); 2]>,
    /// Every predicted mention: char span, text, type.
    pub mentions: Vec<(usize, usize, String, EntityType)>,
}

/// ADE Corpus V2, sentence level (see the module notes).
pub fn ade_eval<E: Extractor>(
    ex: &mut E,
    tok: &TextTokenizer,
    sentences: &[&AdeSentence],
    negatives: &[&str],
    batch: usize,
) -> Result<AdeReport> {
    let cfg = ex.cfg().clone();
    type SpanPair = ((usize, usize), (usize, usize));
    let gold: Vec<HashSet<SpanPair>> = sentences
        .iter()
        .map(|s| {
            s.relations
                .iter()
                .map(|r| (r.drug_span, r.effect_span))
                .collect()
        })
        .collect();
    let texts: Vec<&str> = sentences.iter().map(|s| s.sentence.as_str()).collect();
    let ms: Vec<Vec<Mention>> = sentences.iter().map(|s| ade_mentions(s).0).collect();
    let spans = |ms: &[Mention], pairs: &[(usize, usize)]| -> HashSet<SpanPair> {
        pairs
            .iter()
            .map(|&(h, t)| ((ms[h].start, ms[h].end), (ms[t].start, ms[t].end)))
            .collect()
    };
    let scored = score(ex, tok, &texts, &ms, batch)?;
    let mut g_parts = Vec::new();
    for (i, s) in scored.iter().enumerate() {
        g_parts.push(Prf::of_sets(
            &gold[i],
            &spans(&ms[i], &adverse_pairs(&cfg, s)?),
        ));
    }
    let mut all_texts = texts.clone();
    all_texts.extend_from_slice(negatives);
    let found = entities(ex, tok, &all_texts, batch)?;
    let scored = score(ex, tok, &all_texts, &found, batch)?;
    let mut p_parts = Vec::new();
    let mut pairs = Vec::with_capacity(scored.len());
    let empty = HashSet::new();
    for (i, s) in scored.iter().enumerate() {
        let g = gold.get(i).unwrap_or(&empty);
        let p = spans(&found[i], &adverse_pairs(&cfg, s)?);
        p_parts.push(Prf::of_sets(g, &p));
        let text = all_texts[i];
        let named = |set: &HashSet<SpanPair>| -> Vec<[(usize, usize, String); 2]> {
            let mut v: Vec<SpanPair> = set.iter().copied().collect();
            v.sort_unstable();
            let at = |(a, b): (usize, usize)| {
                (
                    a,
                    b,
                    crag_core::ner::schema::char_slice(text, a, b)
                        .unwrap_or_default()
                        .to_string(),
                )
            };
            v.into_iter().map(|(d, e)| [at(d), at(e)]).collect()
        };
        pairs.push(AdePairs {
            text: text.to_string(),
            negative: i >= sentences.len(),
            gold: named(g),
            predicted: named(&p),
            mentions: found[i]
                .iter()
                .map(|m| (m.start, m.end, m.text.clone(), m.entity_type))
                .collect(),
        });
    }
    Ok(AdeReport {
        sentences: sentences.len(),
        negative_sentences: negatives.len(),
        gold_entities: sum(&g_parts),
        predicted_entities: sum(&p_parts),
        pairs,
    })
}

fn entity_of(m: &Mention) -> Entity {
    Entity {
        id: String::new(),
        text: m.text.clone(),
        entity_type: m.entity_type,
        start: m.start,
        end: m.end,
    }
}

fn relations_of(found: &[FoundRelation]) -> Vec<Relation> {
    found
        .iter()
        .map(|r| Relation {
            relation_type: r.relation,
            head: entity_of(&r.head),
            tail: entity_of(&r.tail),
        })
        .collect()
}

/// Synthetic-note results.
#[derive(Debug, Clone, Serialize)]
pub struct SyntheticReport {
    /// Documents.
    pub documents: usize,
    /// Relations with gold entities (entity scores are trivially perfect there).
    pub gold_entities: EvalReport,
    /// Entities and relations both predicted.
    pub predicted: EvalReport,
}

/// Held-out synthetic notes, exact entity matching.
pub fn synthetic_eval<E: Extractor>(
    ex: &mut E,
    tok: &TextTokenizer,
    docs: &[Document],
    batch: usize,
) -> Result<SyntheticReport> {
    let cfg = ex.cfg().clone();
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let extract = |ex: &mut E, ms: &[Vec<Mention>]| -> Result<Vec<Vec<FoundRelation>>> {
        relate::extract_relations(tok, &cfg, &texts, ms, batch, |i, m, p, b, l| {
            ex.relation_logits(i, m, p, b, l)
        })
    };
    let gold_ms: Vec<Vec<Mention>> = docs
        .iter()
        .map(|d| d.entities.iter().map(mention_of).collect())
        .collect();
    let rel_gold = extract(ex, &gold_ms)?;
    let pred_gold: Vec<Document> = docs
        .iter()
        .zip(&rel_gold)
        .map(|(d, r)| Document {
            relations: relations_of(r),
            ..d.clone()
        })
        .collect();
    let found = entities(ex, tok, &texts, batch)?;
    let rel = extract(ex, &found)?;
    let pred: Vec<Document> = docs
        .iter()
        .zip(found.iter().zip(&rel))
        .map(|(d, (ms, r))| Document {
            id: d.id.clone(),
            text: d.text.clone(),
            entities: ms.iter().map(entity_of).collect(),
            relations: relations_of(r),
        })
        .collect();
    Ok(SyntheticReport {
        documents: docs.len(),
        gold_entities: evaluate(docs, &pred_gold, MatchMode::Exact)?,
        predicted: evaluate(docs, &pred, MatchMode::Exact)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prf_counts() {
        let p = Prf::new(4, 2, 1);
        assert_eq!((p.precision, p.recall), (0.5, 0.25));
        assert!((p.f1 - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(Prf::new(0, 0, 0).f1, 0.0);
        let g: HashSet<u8> = [1, 2, 3].into();
        let q: HashSet<u8> = [3, 4].into();
        assert_eq!(Prf::of_sets(&g, &q), (3, 2, 1));
        assert_eq!(sum(&[(3, 2, 1), (1, 1, 1)]).tp, 2);
    }

    #[test]
    fn sider_lexicon_flags_need_the_lexicon() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            a: ExtractEvalArgs,
        }
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["extract-eval", "--model", "m"].iter().chain(args)).map(|c| c.a)
        };
        let a = parse(&["--lexicon", "--lexicon-sider", "--lexicon-unseen", "drug"]).unwrap();
        assert!(a.lexicon && a.lexicon_sider);
        assert_eq!(a.lexicon_unseen.as_deref(), Some("drug"));
        assert!(parse(&["--lexicon-sider"]).is_err(), "without --lexicon");
        assert!(
            parse(&["--lexicon", "--lexicon-unseen", "all"]).is_err(),
            "without --lexicon-sider"
        );
        assert!(parse(&["--lexicon", "--lexicon-sider", "--lexicon-unseen", "some"]).is_err());
    }

    /// Says `adverse_effect` for every pair (and `O` for every token).
    struct AlwaysAdverse(NerConfig);

    impl Extractor for AlwaysAdverse {
        fn cfg(&self) -> &NerConfig {
            &self.0
        }
        fn token_logits(
            &mut self,
            _: &[i64],
            _: &[i64],
            b: usize,
            l: usize,
        ) -> Result<Array3<f32>> {
            let mut a = Array3::zeros((b, l, self.0.n_labels()));
            a.slice_mut(ndarray::s![.., .., 0]).fill(10.0);
            Ok(a)
        }
        fn relation_logits(
            &mut self,
            _: &[i64],
            _: &[i64],
            _: &[[i64; 2]],
            b: usize,
            _: usize,
        ) -> Result<Array2<f32>> {
            let mut a = Array2::zeros((b, self.0.n_relation_labels()));
            a.column_mut(5).fill(10.0);
            Ok(a)
        }
    }

    #[test]
    fn cid_and_ade_protocols_count_document_and_span_pairs() {
        let dir = std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into());
        let tok =
            TextTokenizer::from_file_plain(std::path::Path::new(&dir).join("tokenizer.json"), 64)
                .expect("MiniLM tokenizer (scripts/setup-minilm.sh)");
        let cfg = NerConfig {
            relations: Some(crag_core::ner::model::RelationHead::new(8)),
            ..NerConfig::new(crag_core::bert::BertConfig::minilm_l6(), 64)
        };
        let mut ex = AlwaysAdverse(cfg);
        let title = "Lithium nephropathy.";
        let abs = "Aspirin was given. Later, lithium was stopped.";
        let text = format!("{title} {abs}");
        let m = |s: &str, from: usize, kind: &str, id: &str| {
            let b = from + text[from..].find(s).unwrap();
            crag_core::data::pubtator::PubtatorMention {
                start: b,
                end: b + s.len(),
                text: s.into(),
                kind: kind.into(),
                ids: vec![id.into()],
                parts: vec![],
            }
        };
        let doc = PubtatorDoc {
            pmid: "1".into(),
            title: title.into(),
            abstract_text: abs.into(),
            mentions: vec![
                m("Lithium", 0, "Chemical", "D1"),
                m("nephropathy", 0, "Disease", "D2"),
                m("Aspirin", 0, "Chemical", "D3"),
                m("lithium", 30, "Chemical", "D1"),
            ],
            relations: vec![("D1".into(), "D2".into()), ("D9".into(), "D2".into())],
        };
        let r = cid_eval(&mut ex, &tok, &[doc], None, 4).unwrap();
        // Predicted id pairs: (D1, D2) twice over and (D3, D2); gold (D1, D2), (D9, D2).
        assert_eq!(
            (
                r.gold_entities.gold,
                r.gold_entities.pred,
                r.gold_entities.tp
            ),
            (2, 2, 1)
        );
        assert_eq!(r.reachable, 1, "D9 has no mention");
        assert!(r.end_to_end.is_none());

        let rel = |d: (usize, usize), e: (usize, usize)| crag_core::data::ade::AdeRelation {
            pmid: "7".into(),
            sentence: String::new(),
            effect: String::new(),
            effect_doc_span: e,
            effect_span: e,
            drug: String::new(),
            drug_doc_span: d,
            drug_span: d,
            line: 1,
        };
        let sentence = AdeSentence {
            pmid: "7".into(),
            sentence: "Rash and fever after amoxicillin.".into(),
            relations: vec![rel((21, 32), (0, 4))],
        };
        let r = ade_eval(&mut ex, &tok, &[&sentence], &["Nothing here."], 4).unwrap();
        assert_eq!(
            (
                r.gold_entities.gold,
                r.gold_entities.pred,
                r.gold_entities.tp
            ),
            (1, 1, 1)
        );
        // The tagger finds nothing: every gold pair is missed.
        assert_eq!(
            (
                r.predicted_entities.gold,
                r.predicted_entities.pred,
                r.predicted_entities.tp
            ),
            (1, 0, 0)
        );
        // One record per sentence of the predicted-entity run, the ADE-NEG one last.
        assert_eq!(r.pairs.len(), 2);
        assert!(!r.pairs[0].negative && r.pairs[1].negative);
        assert_eq!(
            r.pairs[0].gold,
            vec![[
                (21, 32, "amoxicillin".to_string()),
                (0, 4, "Rash".to_string())
            ]]
        );
        assert!(r.pairs[0].predicted.is_empty() && r.pairs[1].gold.is_empty());
    }

    #[test]
    fn lexicon_takes_the_most_frequent_single_id() {
        let doc = |ids: &[(&str, &str)]| PubtatorDoc {
            pmid: "1".into(),
            title: "t".into(),
            abstract_text: "a".into(),
            mentions: ids
                .iter()
                .map(|(text, id)| crag_core::data::pubtator::PubtatorMention {
                    start: 0,
                    end: 1,
                    text: text.to_string(),
                    kind: "Chemical".into(),
                    ids: vec![id.to_string()],
                    parts: vec![],
                })
                .collect(),
            relations: vec![],
        };
        let lex = mesh_lexicon(&[doc(&[
            ("Lithium", "D1"),
            ("lithium", "D1"),
            ("LITHIUM", "D2"),
        ])]);
        assert_eq!(
            lex.get(&(EntityType::Drug, "lithium".into()))
                .map(String::as_str),
            Some("D1")
        );
    }
}

/// Arguments of `crag-train extract-eval`.
#[derive(Debug, clap::Args)]
pub struct ExtractEvalArgs {
    /// Model directory written by `crag-train ner --relations` (model.json, model.onnx, tokenizer.json).
    #[arg(long)]
    pub model: std::path::PathBuf,
    /// BC5CDR folder (training abstracts for the id lexicon, development abstracts for CID).
    #[arg(long, env = "CRAG_BC5CDR_DIR", default_value = "../shared/data/bc5cdr")]
    pub bc5cdr: std::path::PathBuf,
    /// ADE Corpus V2 folder.
    #[arg(
        long,
        env = "CRAG_ADE_DIR",
        default_value = "../shared/data/ade_corpus_v2"
    )]
    pub ade_dir: std::path::PathBuf,
    /// Held-out synthetic notes to evaluate on.
    #[arg(long, default_value_t = 300)]
    pub synthetic: usize,
    /// Seed of the held-out synthetic notes (training used `--seed`, 42 by default).
    #[arg(long, default_value_t = 7)]
    pub synthetic_seed: u64,
    /// Seed of the ADE PMID split (the training run's `--seed`).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Quick run: the first N BC5CDR dev abstracts, ADE test sentences and ADE-NEG sentences only (default: all).
    #[arg(long)]
    pub max_docs: Option<usize>,
    /// Rows per ONNX Runtime call.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// ONNX Runtime intra-op threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// ONNX Runtime library.
    #[arg(
        long,
        env = "ORT_DYLIB_PATH",
        default_value = "/usr/local/lib/crag/libonnxruntime.so"
    )]
    pub onnxruntime: String,
    /// Write the report here (default: `extraction.json` in the model directory).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Write the BC5CDR dev entities here, one abstract per line (`id`, `gold` and refined `predicted` mentions in
    /// BC5CDR's schema, char offsets), for error analysis.
    #[arg(long)]
    pub predictions: Option<std::path::PathBuf>,
    /// Write the ADE Corpus V2 predicted-entity run here, one sentence per line (`text`, `negative` for ADE-NEG,
    /// gold and predicted (drug, effect) pairs with char spans, every predicted mention), for error analysis.
    #[arg(long)]
    pub ade_predictions: Option<std::path::PathBuf>,
    /// Also store the report under `metrics.extraction` in the model directory's model.json (and the `--refine`
    /// setting in its config).
    #[arg(long)]
    pub update_model: bool,
    /// Document-level refinement of mentions to evaluate (and store with `--update-model`): every step (`all`),
    /// none (`none`); default: the model config's.
    #[arg(long, value_parser = ["all", "none"])]
    pub refine: Option<String>,
    /// How word labels are chosen (and stored with `--update-model`): `viterbi` (the best valid BIO sequence) or
    /// `greedy` (arg-max per word); default: the model config's.
    #[arg(long, value_parser = ["greedy", "viterbi"])]
    pub decoding: Option<String>,
    /// Choose the refinement's `min_score` (and, with `--exclusions` / `--lexicon`, the exclusions' maximum share and
    /// the lexicon's minimum precision, in that order) on the first `--tune-docs` BC5CDR dev abstracts (the ones training selected epochs on); the rest is reported apart.
    #[arg(long)]
    pub tune: bool,
    /// Dev abstracts for `--tune`.
    #[arg(long, default_value_t = 100)]
    pub tune_docs: usize,
    /// Add exclusions from the BC5CDR training annotations to the refinement (forms the training abstracts seldom
    /// annotate on their own: fragments of entity names, words that are rarely entities).
    #[arg(long)]
    pub exclusions: bool,
    /// Exclusions: forms with at least this many free occurrences (not inside a longer annotation) in the training
    /// abstracts.
    #[arg(long, default_value_t = 3)]
    pub exclusion_min_occurrences: usize,
    /// Exclusions: forms annotated in less than this share of their free occurrences (default: tuned with
    /// `--tune`, else 0.1).
    #[arg(long)]
    pub exclusion_max_share: Option<f64>,
    /// Add a lexicon of BC5CDR training annotations to the refinement (forms the training abstracts nearly always
    /// annotate, added where the tagger found nothing).
    #[arg(long)]
    pub lexicon: bool,
    /// Lexicon forms: annotated at least this often in the training abstracts.
    #[arg(long, default_value_t = 2)]
    pub lexicon_min_annotated: usize,
    /// Lexicon forms: occurring (whole word) at least this often in the training abstracts.
    #[arg(long, default_value_t = 3)]
    pub lexicon_min_occurrences: usize,
    /// Lexicon forms: a short form only ever annotated in capitals ("5-HT") only when annotated in at least this
    /// many training abstracts (fewer: an abbreviation each abstract defines, left to the abbreviation step).
    #[arg(long, default_value_t = 3)]
    pub lexicon_min_abbreviation_docs: usize,
    /// Lexicon forms: annotated in at least this share of their occurrences (default: tuned with `--tune`, else 0.8).
    #[arg(long)]
    pub lexicon_min_precision: Option<f64>,
    /// Lexicon forms: a SIDER 4.1 drug name or side-effect term (MedDRA) needs one annotation and one occurrence in
    /// the training abstracts instead of the minimums above (its annotated share must still reach the precision).
    #[arg(long, requires = "lexicon")]
    pub lexicon_sider: bool,
    /// Lexicon with `--lexicon-sider`: SIDER names that no training abstract contains enter for these types
    /// (`none`, `drug`: drug names, `all`: side-effect terms too), scored by their type's prior in the training
    /// abstracts (default: tuned with `--tune`, else none).
    #[arg(long, value_parser = ["none", "drug", "all"], requires = "lexicon_sider")]
    pub lexicon_unseen: Option<String>,
    /// Add a boundary model fitted on the BC5CDR training annotations as the last refinement step (moves a
    /// mention's first or last token where the corpus's conventions prefer another span).
    #[arg(long)]
    pub boundaries: bool,
    /// Boundary model: the probability margin a variant must win by (default: tuned with `--tune`, else 0.5).
    #[arg(long)]
    pub boundary_margin: Option<f64>,
    /// Boundary model: trees.
    #[arg(long, default_value_t = 300)]
    pub boundary_trees: usize,
    /// Boundary model: never move a mention that is a SIDER 4.1 side-effect term (MedDRA) or drug name of two or
    /// more tokens ("deep vein thrombosis" stays whole although BC5CDR only annotates "thrombosis").
    #[arg(long)]
    pub boundary_keep_sider: bool,
    /// SIDER 4.1 folder (side-effect-terms.tsv, drug_names.tsv), for `--lexicon-sider` and `--boundary-keep-sider`.
    #[arg(
        long,
        env = "CRAG_SIDER_DIR",
        default_value = "../shared/data/sider_4_1"
    )]
    pub sider: std::path::PathBuf,
}

/// BC5CDR dev documents and the decoder's mentions of them, before any refinement.
fn bc5cdr_decoded<E: Extractor>(
    ex: &mut E,
    tok: &TextTokenizer,
    dev: &[PubtatorDoc],
    batch: usize,
) -> Result<(Vec<Document>, Vec<Vec<Mention>>)> {
    let docs: Vec<Document> = dev.iter().map(|d| d.to_document()).collect();
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let decoded_cfg = NerConfig {
        refine: Refine::default(),
        ..ex.cfg().clone()
    };
    let decoded = tagging::extract(tok, &decoded_cfg, &texts, batch, |i, m, b, l| {
        ex.token_logits(i, m, b, l)
    })?;
    Ok((docs, decoded))
}

/// `docs`' gold entities and `decoded` refined with `opts` (BC5CDR's schema), one JSON line per document.
fn write_predictions(
    path: &Path,
    docs: &[Document],
    decoded: &[Vec<Mention>],
    opts: &Refine,
) -> Result<()> {
    let spans = |d: &Document| -> Vec<serde_json::Value> {
        d.entities
            .iter()
            .map(|e| serde_json::json!([e.start, e.end, e.text, e.entity_type]))
            .collect()
    };
    let pred = refined_documents(docs, decoded, opts, 0..docs.len())?;
    let rows: Vec<serde_json::Value> = docs
        .iter()
        .zip(&pred)
        .map(|(d, p)| serde_json::json!({"id": d.id, "gold": spans(d), "predicted": spans(p)}))
        .collect();
    crate::outputs::write_jsonl(path, &rows)
}

/// The documents `range` with `decoded` refined with `opts` as their entities, in BC5CDR's schema.
fn refined_documents(
    docs: &[Document],
    decoded: &[Vec<Mention>],
    opts: &Refine,
    range: std::ops::Range<usize>,
) -> Result<Vec<Document>> {
    let refiner = Refiner::new(opts)?;
    let pred = docs[range.clone()]
        .iter()
        .zip(&decoded[range])
        .map(|(d, m)| tagging::to_document(&d.id, &d.text, &refiner.apply(&d.text, m.clone())))
        .collect();
    Ok(crate::ner_train::to_bc5cdr_types(pred))
}

/// Exact entity scores (BC5CDR's two types) of `decoded` refined with `opts`, on the documents `range`.
fn bc5cdr_scores(
    docs: &[Document],
    decoded: &[Vec<Mention>],
    opts: &Refine,
    range: std::ops::Range<usize>,
) -> Result<ScoreTable> {
    let pred = refined_documents(docs, decoded, opts, range.clone())?;
    Ok(evaluate(&docs[range], &pred, MatchMode::Exact)?.entities)
}

/// Chooses refinement values on the first `n` dev abstracts (`--tune`) and keeps each grid for the report.
struct Tuner<'a> {
    docs: &'a [Document],
    decoded: &'a [Vec<Mention>],
    n: usize,
    on: bool,
    report: serde_json::Map<String, serde_json::Value>,
}

impl Tuner<'_> {
    /// `fixed` when given; else, with `--tune`, the first value of `grid` whose `setting` has the best refined micro
    /// F1 (exact) on the first `n` dev abstracts (logged, and recorded under `key` with values named `name`); else
    /// `default`.
    fn choose(
        &mut self,
        key: &str,
        name: &str,
        fixed: Option<f64>,
        default: f64,
        grid: impl IntoIterator<Item = f64>,
        setting: impl Fn(f64) -> Refine,
    ) -> Result<f64> {
        if let Some(v) = fixed {
            return Ok(v);
        }
        if !self.on {
            return Ok(default);
        }
        let mut scores = Vec::new();
        let mut best = (default, f64::NEG_INFINITY);
        for value in grid {
            let f1 = bc5cdr_scores(self.docs, self.decoded, &setting(value), 0..self.n)?
                .micro
                .f1;
            scores.push((value, f1));
            if f1 > best.1 + 1e-12 {
                best = (value, f1);
            }
        }
        eprintln!(
            "{key} {:.2} (refined micro F1 on the first {} dev abstracts: {})",
            best.0,
            self.n,
            grid_line(&scores)
        );
        self.report
            .insert(key.into(), grid_json(name, &scores, best.0));
        Ok(best.0)
    }
}

fn grid_json(name: &str, grid: &[(f64, f64)], chosen: f64) -> serde_json::Value {
    serde_json::json!({
        "grid": grid.iter().map(|(v, f)| serde_json::json!({name: v, "micro_f1": f})).collect::<Vec<_>>(),
        "chosen": chosen,
    })
}

fn grid_line(grid: &[(f64, f64)]) -> String {
    grid.iter()
        .map(|(v, f)| format!("{v:.2} → {f:.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `crag-train extract-eval`: relation (and entity) scores of a shipped extractor through ONNX Runtime.
pub fn extract_eval(a: &ExtractEvalArgs) -> Result<()> {
    use crag_core::artifacts::ModelArtifacts;
    use crag_core::data::ade::{read_ade_corpus, split_by_pmid};
    use crag_core::data::pubtator::{read_pubtator, BC5CDR_DEV, BC5CDR_TRAIN};
    use crag_core::runtime::{self, Device as OrtDevice, SessionOptions};
    use serde_json::json;
    let started = std::time::Instant::now();
    let mut art = ModelArtifacts::read_dir(&a.model)?;
    let mut cfg = NerConfig::from_json(&art.meta.config)?;
    match a.refine.as_deref() {
        Some("all") => cfg.refine = Refine::ALL,
        Some(_) => cfg.refine = Refine::default(),
        None => {}
    }
    match a.decoding.as_deref() {
        Some("viterbi") => cfg.decoding = Decoding::Viterbi,
        Some(_) => cfg.decoding = Decoding::Greedy,
        None => {}
    }
    let head = cfg.relations.clone().ok_or_else(|| {
        CragError::invalid(format!(
            "{} has no relation head (train with --relations)",
            a.model.display()
        ))
    })?;
    let tok_bytes = art
        .tokenizer
        .clone()
        .ok_or_else(|| CragError::invalid("the model directory has no tokenizer.json"))?;
    let tok = TextTokenizer::from_bytes_plain(&tok_bytes, cfg.max_len)?;
    let env = runtime::init(&a.onnxruntime)?;
    let opts = SessionOptions {
        threads: a.threads,
        device: OrtDevice::Cpu,
        dequantize_once: false,
    };
    let mut ex = OrtExtractor {
        session: runtime::load_session(env, &art.onnx, &opts)?.session,
        cfg: cfg.clone(),
    };
    let train_pub = read_pubtator(&a.bc5cdr.join(BC5CDR_TRAIN))?;
    let mut dev_pub = read_pubtator(&a.bc5cdr.join(BC5CDR_DEV))?;
    if let Some(n) = a.max_docs {
        dev_pub.truncate(n);
    }
    eprintln!("BC5CDR dev entities ({} abstracts) ...", dev_pub.len());
    let (dev_docs, decoded) = bc5cdr_decoded(&mut ex, &tok, &dev_pub, a.batch)?;
    let n_tune = a.tune_docs.min(dev_docs.len());
    let mut tuner = Tuner {
        docs: &dev_docs,
        decoded: &decoded,
        n: n_tune,
        on: a.tune,
        report: serde_json::Map::new(),
    };
    let grid = |from: u32, to: u32| (from..=to).map(|k| f64::from(k) / 20.0);
    cfg.refine.min_score = tuner.choose(
        "min_score",
        "min_score",
        None,
        cfg.refine.min_score,
        grid(0, 19),
        |min_score| Refine {
            min_score,
            ..cfg.refine.clone()
        },
    )?;
    let train_docs: Vec<Document> = train_pub.iter().map(|d| d.to_document()).collect();
    let mut exclusions_report = None;
    if a.exclusions {
        let all_forms = build_exclusions(&train_docs, a.exclusion_min_occurrences, 1.0)?;
        let with_max = |share: f64| Refine {
            exclusions: all_forms
                .iter()
                .filter(|x| x.share < share)
                .cloned()
                .collect(),
            ..cfg.refine.clone()
        };
        let max_share = tuner.choose(
            "exclusion_max_share",
            "max_share",
            a.exclusion_max_share,
            0.1,
            grid(1, 10),
            with_max,
        )?;
        cfg.refine = with_max(max_share);
        eprintln!(
            "exclusions: {} forms of the BC5CDR training abstracts (free occurrences ≥ {}, annotated share < {max_share:.2})",
            cfg.refine.exclusions.len(),
            a.exclusion_min_occurrences
        );
        exclusions_report = Some(json!({
            "source": BC5CDR_TRAIN,
            "min_occurrences": a.exclusion_min_occurrences,
            "max_share": max_share,
            "forms": cfg.refine.exclusions.len(),
        }));
    }
    // SIDER names (drug names first: a name in both lists is a drug), read once for the lexicon and the boundaries.
    let sider_names = if a.lexicon_sider || a.boundary_keep_sider {
        Some(crag_core::data::sider::read_names(&a.sider)?)
    } else {
        None
    };
    let mut lexicon_report = None;
    if a.lexicon {
        let mut terms = Terminology::default();
        if let (true, Some((drugs, effects))) = (a.lexicon_sider, &sider_names) {
            terms = Terminology::new(
                drugs
                    .iter()
                    .map(|n| (n.as_str(), EntityType::Drug))
                    .chain(effects.iter().map(|n| (n.as_str(), EntityType::Disease))),
            );
        }
        let rules = LexiconRules {
            min_annotated: a.lexicon_min_annotated,
            min_occurrences: a.lexicon_min_occurrences,
            min_precision: 0.0,
            min_abbreviation_docs: a.lexicon_min_abbreviation_docs,
        };
        let all_forms = build_lexicon_with_terms(&train_docs, &rules, &terms)?;
        let with_min = |p: f64| Refine {
            lexicon: all_forms
                .iter()
                .filter(|e| e.precision >= p)
                .cloned()
                .collect(),
            ..cfg.refine.clone()
        };
        let min_precision = tuner.choose(
            "lexicon_min_precision",
            "min_precision",
            a.lexicon_min_precision,
            0.8,
            grid(10, 20),
            with_min,
        )?;
        cfg.refine = with_min(min_precision);
        let mut unseen_report = serde_json::Value::Null;
        if a.lexicon_sider {
            // Unseen SIDER names: none, drug names, or every name, each at the chosen precision.
            const UNSEEN: [&str; 3] = ["none", "drug", "all"];
            let types = [
                vec![],
                vec![EntityType::Drug],
                vec![EntityType::Drug, EntityType::Disease],
            ];
            let mut lexicons = Vec::new();
            for unseen in types {
                let terms = Terminology {
                    unseen,
                    ..terms.clone()
                };
                let rules = LexiconRules {
                    min_precision,
                    ..rules
                };
                lexicons.push(build_lexicon_with_terms(&train_docs, &rules, &terms)?);
            }
            let with_unseen = |k: f64| Refine {
                lexicon: lexicons[k as usize].clone(),
                ..cfg.refine.clone()
            };
            let fixed = a
                .lexicon_unseen
                .as_deref()
                .and_then(|u| UNSEEN.iter().position(|x| *x == u))
                .map(|k| k as f64);
            let k = tuner.choose(
                "lexicon_unseen",
                "unseen (0 none, 1 drug, 2 all)",
                fixed,
                0.0,
                [0.0, 1.0, 2.0],
                with_unseen,
            )?;
            cfg.refine = with_unseen(k);
            let priors = name_priors(&train_docs, &terms)?;
            let added = cfg.refine.lexicon.len() - lexicons[0].len();
            eprintln!(
                "lexicon: SIDER names vouch for forms; unseen names: {} ({added} forms; priors: {})",
                UNSEEN[k as usize],
                priors
                    .iter()
                    .map(|(t, p)| format!("{t} {}/{} = {:.3}", p.annotated, p.occurrences, p.share()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            unseen_report = json!({
                "source": "SIDER 4.1 drug_names.tsv + side-effect-terms.tsv",
                "names": terms.names.len(),
                "unseen_prior": priors.iter().map(|(t, p)| (t.to_string(), json!({
                    "occurrences_in_one_abstract_only": p.occurrences,
                    "annotated": p.annotated,
                    "share": p.share(),
                }))).collect::<serde_json::Map<_, _>>(),
                "unseen": UNSEEN[k as usize],
                "unseen_forms": added,
            });
        }
        eprintln!(
            "lexicon: {} forms of the BC5CDR training abstracts (annotated ≥ {}, occurring ≥ {}, precision ≥ {min_precision:.2})",
            cfg.refine.lexicon.len(),
            a.lexicon_min_annotated,
            a.lexicon_min_occurrences
        );
        lexicon_report = Some(json!({
            "source": BC5CDR_TRAIN,
            "min_annotated": a.lexicon_min_annotated,
            "min_occurrences": a.lexicon_min_occurrences,
            "min_abbreviation_docs": a.lexicon_min_abbreviation_docs,
            "min_precision": min_precision,
            "forms": cfg.refine.lexicon.len(),
            "sider": unseen_report,
            "forms_by_type": cfg.refine.lexicon.iter().fold(BTreeMap::<String, usize>::new(), |mut m, e| {
                *m.entry(e.entity_type.to_string()).or_default() += 1;
                m
            }),
        }));
    }
    let mut boundaries_report = None;
    if a.boundaries {
        let fit_started = std::time::Instant::now();
        let settings = crate::boundary_fit::BoostSettings {
            trees: a.boundary_trees,
            ..Default::default()
        };
        let (mut model, fitted) = crate::boundary_fit::fit(&train_docs, &settings, 0.5, a.seed)?;
        if let (true, Some((drugs, effects))) = (a.boundary_keep_sider, &sider_names) {
            model.keep = crag_core::ner::boundary::keep_forms(
                effects.iter().chain(drugs).map(String::as_str),
            );
            eprintln!(
                "boundaries: {} SIDER terms of two or more tokens kept whole",
                model.keep.len()
            );
        }
        eprintln!(
            "boundaries: {} trees on {} rows ({} annotated spans) of the BC5CDR training abstracts, {:.0} s",
            fitted.trees,
            fitted.rows,
            fitted.positives,
            fit_started.elapsed().as_secs_f64()
        );
        let with_margin = |margin: f64| Refine {
            boundaries: Some(BoundaryModel {
                margin,
                ..model.clone()
            }),
            ..cfg.refine.clone()
        };
        let margin = tuner.choose(
            "boundary_margin",
            "margin",
            a.boundary_margin,
            0.5,
            grid(4, 18),
            with_margin,
        )?;
        let before = refined_documents(&dev_docs, &decoded, &cfg.refine, 0..dev_docs.len())?;
        cfg.refine = with_margin(margin);
        let after = refined_documents(&dev_docs, &decoded, &cfg.refine, 0..dev_docs.len())?;
        let moved: usize = before
            .iter()
            .zip(&after)
            .map(|(b, a)| {
                let old: HashSet<(usize, usize)> =
                    b.entities.iter().map(|e| (e.start, e.end)).collect();
                a.entities
                    .iter()
                    .filter(|e| !old.contains(&(e.start, e.end)))
                    .count()
            })
            .sum();
        eprintln!("boundaries: margin {margin:.2}; {moved} dev mentions moved");
        boundaries_report = Some(json!({
            "source": BC5CDR_TRAIN,
            "rows": fitted.rows,
            "annotated_rows": fitted.positives,
            "trees": fitted.trees,
            "learning_rate": settings.learning_rate,
            "max_depth": settings.max_depth,
            "min_leaf_weight": settings.min_leaf_weight,
            "seed": a.seed,
            "margin": margin,
            "dev_mentions_moved": moved,
            "kept_terms": if a.boundary_keep_sider { json!({"source": "SIDER 4.1 side-effect-terms.tsv + drug_names.tsv", "forms": model.keep.len()}) } else { serde_json::Value::Null },
        }));
    }
    ex.cfg = cfg.clone();
    let mut tuning = tuner.report;
    if a.tune {
        tuning.insert("documents".into(), json!(n_tune));
        tuning.insert(
            "criterion".into(),
            json!("refined micro F1 (exact) on the first documents; the first candidate on ties"),
        );
        let rest = bc5cdr_scores(&dev_docs, &decoded, &cfg.refine, n_tune..dev_docs.len())?;
        tuning.insert("rest_of_dev".into(), crate::outputs::to_json(&rest));
    }
    let all = 0..dev_docs.len();
    let decoded_scores = bc5cdr_scores(&dev_docs, &decoded, &Refine::default(), all.clone())?;
    let refined_scores = bc5cdr_scores(&dev_docs, &decoded, &cfg.refine, all)?;
    if let Some(path) = &a.predictions {
        write_predictions(path, &dev_docs, &decoded, &cfg.refine)?;
        eprintln!("wrote {}", path.display());
    }
    eprintln!(
        "{}{}",
        decoded_scores.to_table("decoded"),
        refined_scores.to_table("refined")
    );
    let lexicon = mesh_lexicon(&train_pub);
    eprintln!("BC5CDR dev CID ({} abstracts) ...", dev_pub.len());
    let cid = cid_eval(&mut ex, &tok, &dev_pub, Some(&lexicon), a.batch)?;
    let e2e = cid.end_to_end.unwrap_or_default();
    eprintln!(
        "  gold entities: P {:.4} R {:.4} F1 {:.4} | end to end: P {:.4} R {:.4} F1 {:.4} | {} of {} gold pairs reachable",
        cid.gold_entities.precision,
        cid.gold_entities.recall,
        cid.gold_entities.f1,
        e2e.precision,
        e2e.recall,
        e2e.f1,
        cid.reachable,
        cid.gold_entities.gold
    );
    let corpus = read_ade_corpus(&a.ade_dir)?;
    let split = split_by_pmid(corpus.pmids(), a.seed, crate::ner_train::ADE_FRACTIONS)?;
    let dev_pmids: HashSet<&str> = dev_pub.iter().map(|d| d.pmid.as_str()).collect();
    let sentences: Vec<&AdeSentence> = corpus
        .sentences
        .iter()
        .filter(|s| split.test.contains(&s.pmid) && !dev_pmids.contains(s.pmid.as_str()))
        .collect();
    let negatives: Vec<&str> = corpus
        .neg_sentences
        .iter()
        .filter(|s| split.test.contains(&s.pmid))
        .map(|s| s.sentence.as_str())
        .collect();
    let (mut sentences, mut negatives) = (sentences, negatives);
    if let Some(n) = a.max_docs {
        sentences.truncate(n);
        negatives.truncate(n);
    }
    eprintln!(
        "ADE Corpus V2 test split ({} relation sentences, {} ADE-NEG sentences) ...",
        sentences.len(),
        negatives.len()
    );
    let ade = ade_eval(&mut ex, &tok, &sentences, &negatives, a.batch)?;
    if let Some(path) = &a.ade_predictions {
        crate::outputs::write_jsonl(path, &ade.pairs)?;
        eprintln!("wrote {}", path.display());
    }
    eprintln!(
        "  gold entities: P {:.4} R {:.4} F1 {:.4} | predicted entities: P {:.4} R {:.4} F1 {:.4}",
        ade.gold_entities.precision,
        ade.gold_entities.recall,
        ade.gold_entities.f1,
        ade.predicted_entities.precision,
        ade.predicted_entities.recall,
        ade.predicted_entities.f1
    );
    let synth_docs = crag_core::ner::synth::generate(
        a.synthetic,
        a.synthetic_seed,
        &crag_core::ner::synth::GeneratorConfig::default(),
    )?;
    eprintln!(
        "synthetic notes ({} documents, seed {}) ...",
        synth_docs.len(),
        a.synthetic_seed
    );
    let synth = synthetic_eval(&mut ex, &tok, &synth_docs, a.batch)?;
    eprintln!(
        "  relations strict, gold entities: F1 {:.4} | entities exact F1 {:.4}, relations strict F1 {:.4} (predicted entities)",
        synth.gold_entities.relations_strict.micro.f1,
        synth.predicted.entities.micro.f1,
        synth.predicted.relations_strict.micro.f1
    );
    let report = json!({
        "model": a.model.display().to_string(),
        "onnx_sha256": art.sha256(),
        "relation_head": head,
        "decoding": cfg.decoding,
        "refine": {
            "abbreviations": cfg.refine.abbreviations,
            "merge_adjacent": cfg.refine.merge_adjacent,
            "tidy_edges": cfg.refine.tidy_edges,
            "min_score": cfg.refine.min_score,
            "exclusion_forms": cfg.refine.exclusions.len(),
            "lexicon_forms": cfg.refine.lexicon.len(),
        },
        "bc5cdr_entities": {
            "split": BC5CDR_DEV,
            "documents": dev_pub.len(),
            "protocol": "entity level, exact span and type, BC5CDR's schema (Symptom → Disease, Procedure and \
                         Lab_Test left out)",
            "decoded": decoded_scores,
            "refined": refined_scores,
            "tuning": if tuning.is_empty() { serde_json::Value::Null } else { serde_json::Value::Object(tuning) },
            "exclusions": exclusions_report,
            "lexicon": lexicon_report,
            "boundaries": boundaries_report,
        },
        "bc5cdr_cid": {
            "split": BC5CDR_DEV,
            "documents": cid.documents,
            "protocol": "document level: predicted adverse_effect mention pairs → MeSH id pairs, compared with the CID \
                         relations; end to end normalises predicted mentions with a lexicon of the training abstracts",
            "gold_entities": cid.gold_entities,
            "end_to_end": cid.end_to_end,
            "reachable_gold_pairs": cid.reachable,
        },
        "ade": {
            "split": {"seed": a.seed, "fractions": crate::ner_train::ADE_FRACTIONS, "part": "test (by PMID)"},
            "protocol": "sentence level: (drug span, effect span) adverse_effect pairs, exact spans; the predicted-entity \
                         run adds the test PMIDs' ADE-NEG sentences",
            "report": ade,
        },
        "synthetic": {
            "documents": synth.documents,
            "seed": a.synthetic_seed,
            "gold_entities_relations_strict": synth.gold_entities.relations_strict,
            "gold_entities_relations_lenient": synth.gold_entities.relations_lenient,
            "predicted": synth.predicted,
        },
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "seconds": started.elapsed().as_secs_f64(),
    });
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| a.model.join("extraction.json"));
    crate::outputs::write_json(&out, &report)?;
    eprintln!(
        "wrote {} ({:.0} s)",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    if a.update_model {
        if let serde_json::Value::Object(m) = &mut art.meta.metrics {
            m.insert("extraction".into(), report);
        }
        art.meta.config = cfg.to_json();
        art.write_dir(&a.model)?;
        eprintln!("updated {}/model.json", a.model.display());
    }
    Ok(())
}
