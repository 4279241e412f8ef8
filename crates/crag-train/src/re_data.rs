//! Relation-extraction training examples for the extractor's relation head.
//!
//! Every candidate pair of gold mentions ([`crag_core::ner::relate::candidates`]) becomes one marked, encoded row
//! with two label masks: `valid` (the labels the pair's types allow) and `allowed` (the labels its annotation
//! permits). Fully annotated data (synthetic notes) gives one allowed label per pair — its relation or `none`.
//! BC5CDR and ADE Corpus V2 annotate one relation only (chemical-induced disease / adverse effect): an annotated
//! pair allows `adverse_effect` alone, an unannotated pair allows everything **but** `adverse_effect` (it may be a
//! treatment, a prevention or nothing; the corpora do not say), trained with the partial-label loss of
//! [`crate::ner_model::partial_label_loss`].

use std::collections::HashSet;

use crag_core::data::ade::{AdeSentence, MentionDictionary};
use crag_core::data::pubtator::PubtatorDoc;
use crag_core::ner::model::RelationHead;
use crag_core::ner::relate::{self, PairRow};
use crag_core::ner::schema::{Document, Entity, EntityType, RelationType};
use crag_core::ner::tagging::{Framing, Mention};
use crag_core::text::TextTokenizer;
use crag_core::Result;

/// One training row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairExample {
    /// Encoded marked context and marker positions.
    pub row: PairRow,
    /// Labels the pair's types allow.
    pub valid: Vec<bool>,
    /// Labels the annotation permits (a non-empty subset of `valid`).
    pub allowed: Vec<bool>,
}

impl PairExample {
    /// Whether the annotation names a relation (one allowed label other than `none`).
    pub fn is_positive(&self) -> bool {
        !self.allowed[0] && self.allowed.iter().filter(|&&a| a).count() == 1
    }
}

/// What the annotation says about a candidate pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gold {
    /// This relation holds.
    Is(RelationType),
    /// This relation does not hold (others may).
    Not(RelationType),
    /// No relation holds.
    Nothing,
}

/// Counts of a source's examples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceCounts {
    /// Rows produced.
    pub examples: usize,
    /// Rows with an annotated relation.
    pub positive: usize,
    /// Candidates whose marked pair does not fit in one window.
    pub too_long: usize,
    /// Annotated relations with no candidate (overlapping or too distant mentions; for ADE and synthetic notes also
    /// pairs too long for a window).
    pub relations_missed: usize,
}

/// A gold entity as a mention (score 1).
pub fn mention_of(e: &Entity) -> Mention {
    Mention {
        start: e.start,
        end: e.end,
        text: e.text.clone(),
        entity_type: e.entity_type,
        score: 1.0,
    }
}

/// Rows for the candidates of one text; `gold(h, t)` labels the pair of mention indices.
pub fn examples_for(
    tok: &TextTokenizer,
    framing: &Framing,
    head: &RelationHead,
    text: &str,
    mentions: &[Mention],
    gold: impl Fn(usize, usize) -> Gold,
    counts: &mut SourceCounts,
) -> Result<Vec<PairExample>> {
    let types = head.relation_types()?;
    let label = |r: RelationType| types.iter().position(|&t| t == r).map(|i| i + 1);
    let mut out = Vec::new();
    for c in relate::candidates(text, mentions, head)? {
        let (h, t) = (&mentions[c.head], &mentions[c.tail]);
        let valid = relate::type_mask(&types, h.entity_type, t.entity_type);
        let mut allowed = vec![false; valid.len()];
        match gold(c.head, c.tail) {
            Gold::Is(r) => match label(r) {
                Some(i) if valid[i] => allowed[i] = true,
                _ => continue,
            },
            Gold::Not(r) => {
                allowed.clone_from(&valid);
                if let Some(i) = label(r) {
                    allowed[i] = false;
                }
            }
            Gold::Nothing => allowed[0] = true,
        }
        match relate::encode_pair(tok, framing, text, h, t, c.context)? {
            Some(row) => {
                let ex = PairExample {
                    row,
                    valid,
                    allowed,
                };
                counts.examples += 1;
                counts.positive += usize::from(ex.is_positive());
                out.push(ex);
            }
            None => counts.too_long += 1,
        }
    }
    Ok(out)
}

/// Mentions of a BC5CDR abstract (Chemical → Drug, Disease) with their MeSH ids (`-1` dropped).
pub fn bc5cdr_mentions(doc: &PubtatorDoc) -> Vec<(Mention, Vec<String>)> {
    doc.mentions
        .iter()
        .filter_map(|m| {
            PubtatorDoc::entity_type(&m.kind).map(|t| {
                (
                    Mention {
                        start: m.start,
                        end: m.end,
                        text: m.text.clone(),
                        entity_type: t,
                        score: 1.0,
                    },
                    m.ids.iter().filter(|i| *i != "-1").cloned().collect(),
                )
            })
        })
        .collect()
}

/// Whether a chemical with `chem` ids and a disease with `dis` ids form a CID pair of `cid`.
pub fn is_cid(cid: &HashSet<(String, String)>, chem: &[String], dis: &[String]) -> bool {
    chem.iter()
        .any(|c| dis.iter().any(|d| cid.contains(&(c.clone(), d.clone()))))
}

/// BC5CDR rows: chemical → disease pairs, `adverse_effect` when the abstract's CID relations join their ids.
pub fn bc5cdr_examples(
    tok: &TextTokenizer,
    framing: &Framing,
    head: &RelationHead,
    docs: &[PubtatorDoc],
) -> Result<(Vec<PairExample>, SourceCounts)> {
    let mut counts = SourceCounts::default();
    let mut out = Vec::new();
    for d in docs {
        let text = d.text();
        let ms = bc5cdr_mentions(d);
        let mentions: Vec<Mention> = ms.iter().map(|(m, _)| m.clone()).collect();
        let cid: HashSet<(String, String)> = d.relations.iter().cloned().collect();
        // CID pairs reached by some candidate (a relation is document level: any mention pair of its ids).
        let covered = std::cell::RefCell::new(HashSet::new());
        let ex = examples_for(
            tok,
            framing,
            head,
            &text,
            &mentions,
            |h, t| {
                let (hm, tm) = (&ms[h], &ms[t]);
                if hm.0.entity_type == EntityType::Drug
                    && tm.0.entity_type == EntityType::Disease
                    && is_cid(&cid, &hm.1, &tm.1)
                {
                    for c in &hm.1 {
                        for dz in &tm.1 {
                            if cid.contains(&(c.clone(), dz.clone())) {
                                covered.borrow_mut().insert((c.clone(), dz.clone()));
                            }
                        }
                    }
                    Gold::Is(RelationType::AdverseEffect)
                } else {
                    Gold::Not(RelationType::AdverseEffect)
                }
            },
            &mut counts,
        )?;
        counts.relations_missed += cid.len() - covered.borrow().len();
        out.extend(ex);
    }
    Ok((out, counts))
}

/// Gold mentions of an ADE Corpus V2 sentence (drugs → Drug, effects → Disease, deduplicated) and its annotated
/// (drug, effect) pairs as mention indices.
pub fn ade_mentions(s: &AdeSentence) -> (Vec<Mention>, HashSet<(usize, usize)>) {
    let mut mentions: Vec<Mention> = Vec::new();
    let index = |span: (usize, usize), t: EntityType, ms: &mut Vec<Mention>| {
        if let Some(i) = ms
            .iter()
            .position(|m| (m.start, m.end) == span && m.entity_type == t)
        {
            return i;
        }
        ms.push(Mention {
            start: span.0,
            end: span.1,
            text: crag_core::ner::schema::char_slice(&s.sentence, span.0, span.1)
                .unwrap_or_default()
                .to_string(),
            entity_type: t,
            score: 1.0,
        });
        ms.len() - 1
    };
    let mut pairs = HashSet::new();
    for r in &s.relations {
        let d = index(r.drug_span, EntityType::Drug, &mut mentions);
        let e = index(r.effect_span, EntityType::Disease, &mut mentions);
        pairs.insert((d, e));
    }
    (mentions, pairs)
}

/// ADE Corpus V2 rows: drug → effect pairs of a sentence, `adverse_effect` when annotated.
pub fn ade_examples(
    tok: &TextTokenizer,
    framing: &Framing,
    head: &RelationHead,
    sentences: &[&AdeSentence],
) -> Result<(Vec<PairExample>, SourceCounts)> {
    let mut counts = SourceCounts::default();
    let mut out = Vec::new();
    for s in sentences {
        let (mentions, pairs) = ade_mentions(s);
        let ex = examples_for(
            tok,
            framing,
            head,
            &s.sentence,
            &mentions,
            |h, t| {
                if pairs.contains(&(h, t)) {
                    Gold::Is(RelationType::AdverseEffect)
                } else {
                    Gold::Not(RelationType::AdverseEffect)
                }
            },
            &mut counts,
        )?;
        let got = ex.iter().filter(|e| e.is_positive()).count();
        counts.relations_missed += pairs.len().saturating_sub(got);
        out.extend(ex);
    }
    Ok((out, counts))
}

/// ADE-NEG rows: every (dictionary drug, dictionary effect) pair of sentences the corpus marks as free of adverse
/// drug effects, labelled "not `adverse_effect`" (a drug and a disease named together may still be a treatment, so
/// the other labels stay allowed). The dictionary should hold training annotations only
/// ([`MentionDictionary::from_corpus`] with the training PMIDs).
pub fn ade_negative_examples(
    tok: &TextTokenizer,
    framing: &Framing,
    head: &RelationHead,
    sentences: &[&str],
    dictionary: &MentionDictionary,
) -> Result<(Vec<PairExample>, SourceCounts)> {
    let mut counts = SourceCounts::default();
    let mut out = Vec::new();
    for &text in sentences {
        let (drugs, effects) = dictionary.find(text);
        let mention = |(start, end): (usize, usize), entity_type| Mention {
            start,
            end,
            text: crag_core::ner::schema::char_slice(text, start, end)
                .unwrap_or_default()
                .to_string(),
            entity_type,
            score: 1.0,
        };
        let mentions: Vec<Mention> = drugs
            .iter()
            .map(|&d| mention(d, EntityType::Drug))
            .chain(effects.iter().map(|&e| mention(e, EntityType::Disease)))
            .collect();
        out.extend(examples_for(
            tok,
            framing,
            head,
            text,
            &mentions,
            |_, _| Gold::Not(RelationType::AdverseEffect),
            &mut counts,
        )?);
    }
    Ok((out, counts))
}

/// Synthetic-note rows: every candidate is labelled (its relation, or `none`).
pub fn synthetic_examples(
    tok: &TextTokenizer,
    framing: &Framing,
    head: &RelationHead,
    docs: &[Document],
) -> Result<(Vec<PairExample>, SourceCounts)> {
    let mut counts = SourceCounts::default();
    let mut out = Vec::new();
    for d in docs {
        let mentions: Vec<Mention> = d.entities.iter().map(mention_of).collect();
        let find = |e: &Entity| d.entities.iter().position(|x| x.same_mention(e));
        let gold: Vec<(usize, usize, RelationType)> = d
            .relations
            .iter()
            .filter_map(|r| Some((find(&r.head)?, find(&r.tail)?, r.relation_type)))
            .collect();
        let ex = examples_for(
            tok,
            framing,
            head,
            &d.text,
            &mentions,
            |h, t| {
                gold.iter()
                    .find(|g| g.0 == h && g.1 == t)
                    .map_or(Gold::Nothing, |g| Gold::Is(g.2))
            },
            &mut counts,
        )?;
        let got = ex.iter().filter(|e| e.is_positive()).count();
        counts.relations_missed += gold.len().saturating_sub(got);
        out.extend(ex);
    }
    Ok((out, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crag_core::bert::BertConfig;
    use crag_core::ner::model::NerConfig;

    fn setup() -> (TextTokenizer, Framing, RelationHead) {
        let dir = std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into());
        let tok =
            TextTokenizer::from_file_plain(std::path::Path::new(&dir).join("tokenizer.json"), 64)
                .expect("MiniLM tokenizer (scripts/setup-minilm.sh)");
        let head = RelationHead::new(8);
        let cfg = NerConfig {
            relations: Some(head.clone()),
            ..NerConfig::new(BertConfig::minilm_l6(), 64)
        };
        let framing = Framing::new(&tok, &cfg).unwrap();
        (tok, framing, head)
    }

    #[test]
    fn partial_labels_for_single_relation_corpora() {
        let (tok, framing, head) = setup();
        let text = "Aspirin induced asthma but relieved headache.";
        let m = |s: &str, t| {
            let b = text.find(s).unwrap();
            Mention {
                start: b,
                end: b + s.len(),
                text: s.into(),
                entity_type: t,
                score: 1.0,
            }
        };
        let mentions = vec![
            m("Aspirin", EntityType::Drug),
            m("asthma", EntityType::Disease),
            m("headache", EntityType::Disease),
        ];
        let mut counts = SourceCounts::default();
        let ex = examples_for(
            &tok,
            &framing,
            &head,
            text,
            &mentions,
            |h, t| {
                if (h, t) == (0, 1) {
                    Gold::Is(RelationType::AdverseEffect)
                } else {
                    Gold::Not(RelationType::AdverseEffect)
                }
            },
            &mut counts,
        )
        .unwrap();
        // Drug→Disease twice; Disease→Disease has no relation type.
        assert_eq!(ex.len(), 2);
        assert_eq!(counts.examples, 2);
        assert_eq!(counts.positive, 1);
        // none, treats, causes, indicates, prevents, adverse_effect
        assert_eq!(ex[0].allowed, vec![false, false, false, false, false, true]);
        assert!(ex[0].is_positive());
        assert_eq!(ex[1].valid, vec![true, true, false, false, true, true]);
        assert_eq!(ex[1].allowed, vec![true, true, false, false, true, false]);
        assert!(!ex[1].is_positive());
        // Fully annotated: none.
        let none = examples_for(
            &tok,
            &framing,
            &head,
            text,
            &mentions,
            |_, _| Gold::Nothing,
            &mut counts,
        )
        .unwrap();
        assert!(none
            .iter()
            .all(|e| e.allowed == vec![true, false, false, false, false, false]));
    }

    #[test]
    fn ade_negative_sentences_give_not_adverse_effect_rows() {
        let (tok, framing, head) = setup();
        let dictionary = MentionDictionary::from_terms(["aspirin", "warfarin"], ["headache"]);
        let sentences = [
            "Aspirin was given for headache.",
            "Warfarin and aspirin were stopped.",
            "Nothing here.",
        ];
        let (rows, counts) =
            ade_negative_examples(&tok, &framing, &head, &sentences, &dictionary).unwrap();
        // One drug-effect pair in the first sentence; two drugs and no effect in the second; nothing in the third.
        assert_eq!((rows.len(), counts.examples, counts.positive), (1, 1, 0));
        assert_eq!(rows[0].allowed, vec![true, true, false, false, true, false]);
        assert!(!rows[0].is_positive());
    }
}
