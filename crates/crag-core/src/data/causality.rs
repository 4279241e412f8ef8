//! Training and evaluation data for causality (`crag_score`): chemical-induced-disease pairs of BC5CDR with
//! contexts from one **or two** sentences of an abstract, and drug–indication negatives from SIDER 4.1.
//!
//! ADE Corpus V2 alone teaches a shortcut: its causal pairs always sit in one sentence, and almost none of its
//! same-sentence pairs are negative, so a model learns "two texts ⇒ not causal" and "drug + condition in one
//! sentence ⇒ causal". The builders here add what is missing:
//!
//! * [`cid_pairs`] — every (chemical MeSH id, disease MeSH id) pair of a BC5CDR abstract's gold mentions, labelled
//!   by the abstract's CID relations. Non-CID pairs are the negatives (treatments, indications, comorbidities,
//!   co-mentions). Contexts follow the **nearest-sentence policy**: of all (chemical mention, disease mention)
//!   combinations, those whose sentences are fewest sentences apart are kept; each distinct (chemical sentence,
//!   disease sentence) among them is one context pair, in text order, at most `max_contexts`. A pair that
//!   co-occurs in a sentence therefore gets same-sentence contexts only; a pair that never does gets the two
//!   closest sentences (title and abstract sentences counted in one sequence).
//! * [`IndicationLexicon`] — SIDER drug names and indication terms (MedDRA preferred term and the label's concept
//!   name), matched case-insensitively as whole words; [`indication_examples`] turns each (drug, indication) pair
//!   that SIDER lists and that occurs in one sentence into a negative, unless the caller's corpus annotates it as
//!   adverse there.
//!
//! Every example is a [`RelationExample`]: the chemical/drug marked in `sentence`, the disease/effect marked in its
//! own sentence (`effect_context`) when that is another one.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::data::ade::{fold, ExampleKind, MentionDictionary, RelationExample, SentenceRef, Span};
use crate::data::pubtator::PubtatorDoc;
use crate::data::sider::Indication;
use crate::ner::relate::sentence_spans;

/// Sentence spans (char offsets into [`PubtatorDoc::text`]) of the title and then of the abstract; the title is
/// always a sentence of its own, even without a final period.
pub fn doc_sentences(doc: &PubtatorDoc) -> Vec<Span> {
    let shift = doc.title.chars().count() + 1;
    let mut out = sentence_spans(&doc.title);
    out.extend(
        sentence_spans(&doc.abstract_text)
            .into_iter()
            .map(|(s, e)| (s + shift, e + shift)),
    );
    out
}

/// One chemical–disease pair of an abstract with its context pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CidPair {
    /// PubMed id.
    pub pmid: String,
    /// Chemical MeSH id.
    pub chemical: String,
    /// Disease MeSH id.
    pub disease: String,
    /// True when the abstract lists the pair as a CID relation.
    pub label: bool,
    /// Sentences between the closest chemical and disease mentions (0: they co-occur in a sentence).
    pub distance: usize,
    /// Context pairs by the nearest-sentence policy (module notes), each a [`RelationExample`] of kind
    /// [`ExampleKind::CidRelation`] or [`ExampleKind::CidOther`].
    pub contexts: Vec<RelationExample>,
}

impl CidPair {
    /// Whether the contexts come from two different sentences.
    pub fn cross_sentence(&self) -> bool {
        self.distance > 0
    }
}

/// Where a mention lies: sentence index and char span relative to that sentence.
struct Located {
    sentence: usize,
    span: Span,
    text: String,
}

/// Chemical–disease pairs of every abstract (module notes), in document order, then by chemical and disease id.
/// Mentions without a MeSH id (`-1`) are skipped; a composite mention counts for each of its ids; a mention that
/// crosses a sentence boundary is skipped. `max_contexts` ≥ 1 caps the context pairs per pair.
pub fn cid_pairs(docs: &[PubtatorDoc], max_contexts: usize) -> Vec<CidPair> {
    let max_contexts = max_contexts.max(1);
    let mut out = Vec::new();
    for doc in docs {
        let text: Vec<char> = doc.text().chars().collect();
        let sentences = doc_sentences(doc);
        let sentence_text: Vec<String> = sentences
            .iter()
            .map(|&(s, e)| text[s..e].iter().collect())
            .collect();
        let mut chems: BTreeMap<&str, Vec<Located>> = BTreeMap::new();
        let mut diss: BTreeMap<&str, Vec<Located>> = BTreeMap::new();
        for m in &doc.mentions {
            let Some(si) = sentences
                .iter()
                .position(|&(s, e)| s <= m.start && m.end <= e)
            else {
                continue;
            };
            let target = match m.kind.as_str() {
                "Chemical" => &mut chems,
                "Disease" => &mut diss,
                _ => continue,
            };
            let base = sentences[si].0;
            for id in m.ids.iter().filter(|id| id.as_str() != "-1") {
                target.entry(id.as_str()).or_default().push(Located {
                    sentence: si,
                    span: (m.start - base, m.end - base),
                    text: m.text.clone(),
                });
            }
        }
        let cid: HashSet<(&str, &str)> = doc
            .relations
            .iter()
            .map(|(c, d)| (c.as_str(), d.as_str()))
            .collect();
        for (&c, cm) in &chems {
            for (&d, dm) in &diss {
                let label = cid.contains(&(c, d));
                let distance = cm
                    .iter()
                    .flat_map(|a| dm.iter().map(move |b| a.sentence.abs_diff(b.sentence)))
                    .min()
                    .unwrap_or(0);
                // Distinct (chemical sentence, disease sentence) at that distance, in text order; first mentions.
                let mut chosen: BTreeMap<(usize, usize), (&Located, &Located)> = BTreeMap::new();
                for a in cm {
                    for b in dm {
                        if a.sentence.abs_diff(b.sentence) == distance {
                            let key = (a.sentence.min(b.sentence), a.sentence);
                            chosen.entry(key).or_insert((a, b));
                        }
                    }
                }
                let contexts = chosen
                    .into_values()
                    .take(max_contexts)
                    .map(|(a, b)| RelationExample {
                        pmid: doc.pmid.clone(),
                        sentence: sentence_text[a.sentence].clone(),
                        drug: a.text.clone(),
                        drug_span: a.span,
                        effect: b.text.clone(),
                        effect_span: b.span,
                        label,
                        kind: if label {
                            ExampleKind::CidRelation
                        } else {
                            ExampleKind::CidOther
                        },
                        effect_context: (a.sentence != b.sentence).then(|| SentenceRef {
                            pmid: doc.pmid.clone(),
                            sentence: sentence_text[b.sentence].clone(),
                        }),
                    })
                    .collect();
                out.push(CidPair {
                    pmid: doc.pmid.clone(),
                    chemical: c.to_string(),
                    disease: d.to_string(),
                    label,
                    distance,
                    contexts,
                });
            }
        }
    }
    out
}

/// The score of each of `n` pairs: the best score of its contexts (`pair_of[i]` is the pair of context `i`); a pair
/// without contexts scores 0. This is how a pair is decided from its context pairs: causal when any scores at or
/// above the threshold.
pub fn max_per_pair(scores: &[f64], pair_of: &[usize], n: usize) -> Vec<f64> {
    let mut out = vec![0.0f64; n];
    for (&s, &p) in scores.iter().zip(pair_of) {
        if p < n {
            out[p] = out[p].max(s);
        }
    }
    out
}

/// Flatten pairs into their contexts and the pair index of each.
pub fn flatten_contexts(pairs: &[CidPair]) -> (Vec<RelationExample>, Vec<usize>) {
    let mut ex = Vec::new();
    let mut of = Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        ex.extend(p.contexts.iter().cloned());
        of.extend(std::iter::repeat_n(i, p.contexts.len()));
    }
    (ex, of)
}

/// Counts over [`cid_pairs`] output, for logs and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CidStats {
    /// Abstracts with at least one pair.
    pub abstracts: usize,
    /// Pairs.
    pub pairs: usize,
    /// CID pairs.
    pub cid_pairs: usize,
    /// CID pairs whose nearest mentions are in different sentences.
    pub cid_cross_sentence: usize,
    /// Non-CID pairs.
    pub other_pairs: usize,
    /// Non-CID pairs in different sentences.
    pub other_cross_sentence: usize,
    /// Context pairs (examples) in all.
    pub contexts: usize,
}

/// Count pairs, labels, cross-sentence pairs and contexts.
pub fn cid_stats(pairs: &[CidPair]) -> CidStats {
    let abstracts: BTreeSet<&str> = pairs.iter().map(|p| p.pmid.as_str()).collect();
    let count = |label: bool, cross: bool| {
        pairs
            .iter()
            .filter(|p| p.label == label && (!cross || p.cross_sentence()))
            .count()
    };
    CidStats {
        abstracts: abstracts.len(),
        pairs: pairs.len(),
        cid_pairs: count(true, false),
        cid_cross_sentence: count(true, true),
        other_pairs: count(false, false),
        other_cross_sentence: count(false, true),
        contexts: pairs.iter().map(|p| p.contexts.len()).sum(),
    }
}

/// SIDER drug names and indication terms, and which (drug, indication) pairs SIDER lists.
#[derive(Debug, Clone)]
pub struct IndicationLexicon {
    dictionary: MentionDictionary,
    /// Folded drug name → STITCH ids.
    drug_ids: HashMap<String, BTreeSet<String>>,
    /// Folded indication term → MedDRA CUIs.
    term_ids: HashMap<String, BTreeSet<String>>,
    /// Listed (STITCH id, CUI) pairs.
    pairs: HashSet<(String, String)>,
}

impl IndicationLexicon {
    /// Build from `meddra_all_indications` rows and `drug_names.tsv` (STITCH id → name). Both the MedDRA
    /// preferred term and the label's concept name of an indication are matched; drugs without a name are
    /// skipped.
    pub fn new(indications: &[Indication], names: &HashMap<String, String>) -> Self {
        let mut drug_ids: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut term_ids: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut pairs = HashSet::new();
        for ind in indications {
            let Some(name) = names.get(&ind.stitch_id) else {
                continue;
            };
            drug_ids
                .entry(fold(name))
                .or_default()
                .insert(ind.stitch_id.clone());
            for t in [&ind.term, &ind.concept_name] {
                term_ids
                    .entry(fold(t))
                    .or_default()
                    .insert(ind.meddra_id.clone());
            }
            pairs.insert((ind.stitch_id.clone(), ind.meddra_id.clone()));
        }
        let dictionary = MentionDictionary::from_terms(drug_ids.keys(), term_ids.keys());
        IndicationLexicon {
            dictionary,
            drug_ids,
            term_ids,
            pairs,
        }
    }

    /// Number of distinct (drug, indication) pairs SIDER lists for named drugs.
    pub fn pair_count(&self) -> usize {
        self.pairs.len()
    }

    /// (drug span, indication span) of every listed pair found in `sentence` (maximal whole-word,
    /// case-insensitive matches; overlapping spans are never paired), in text order.
    pub fn find(&self, sentence: &str) -> Vec<(Span, Span)> {
        let (drugs, terms) = self.dictionary.find(sentence);
        if drugs.is_empty() || terms.is_empty() {
            return Vec::new();
        }
        let chars: Vec<char> = sentence.chars().collect();
        let folded = |(b, e): Span| fold(&chars[b..e].iter().collect::<String>());
        let mut out = Vec::new();
        for &d in &drugs {
            let Some(dids) = self.drug_ids.get(&folded(d)) else {
                continue;
            };
            for &t in &terms {
                if d.0 < t.1 && t.0 < d.1 {
                    continue;
                }
                let Some(tids) = self.term_ids.get(&folded(t)) else {
                    continue;
                };
                let listed = dids.iter().any(|s| {
                    tids.iter()
                        .any(|c| self.pairs.contains(&(s.clone(), c.clone())))
                });
                if listed {
                    out.push((d, t));
                }
            }
        }
        out
    }
}

/// A sentence to search for indication pairs, with the caller's test of whether a (drug span, indication span)
/// is annotated as adverse in its corpus.
pub struct SearchSentence<'a> {
    /// PubMed id.
    pub pmid: &'a str,
    /// The sentence.
    pub sentence: &'a str,
    /// True when the corpus annotates this drug span and indication span as an adverse relation.
    pub adverse: &'a dyn Fn(Span, Span) -> bool,
}

/// Indication negatives ([`ExampleKind::Indication`]) of `sentences`: one example per sentence and folded
/// (drug, indication) pair that the lexicon lists and the sentence's corpus does not annotate as adverse; pairs in
/// `exclude` (folded drug, folded effect; e.g. every annotated ADE pair) are skipped too.
pub fn indication_examples<'a>(
    lexicon: &IndicationLexicon,
    sentences: impl IntoIterator<Item = SearchSentence<'a>>,
    exclude: &HashSet<(String, String)>,
) -> Vec<RelationExample> {
    let mut out = Vec::new();
    for s in sentences {
        let chars: Vec<char> = s.sentence.chars().collect();
        let slice = |(b, e): Span| chars[b..e].iter().collect::<String>();
        let mut seen = HashSet::new();
        for (d, t) in lexicon.find(s.sentence) {
            let (drug, effect) = (slice(d), slice(t));
            let key = (fold(&drug), fold(&effect));
            if (s.adverse)(d, t) || exclude.contains(&key) || !seen.insert(key) {
                continue;
            }
            out.push(RelationExample {
                pmid: s.pmid.to_string(),
                sentence: s.sentence.to_string(),
                drug,
                drug_span: d,
                effect,
                effect_span: t,
                label: false,
                kind: ExampleKind::Indication,
                effect_context: None,
            });
        }
    }
    out
}

/// A sentence of a BC5CDR abstract with its gold mentions (spans relative to the sentence, MeSH ids).
struct MentionedSentence {
    pmid: String,
    sentence: String,
    chemicals: Vec<(Span, Vec<String>)>,
    diseases: Vec<(Span, Vec<String>)>,
    /// Index of the abstract's CID relations in [`Bc5cdrSentences::cid`].
    doc: usize,
}

/// The sentences of BC5CDR abstracts, searched for indication pairs: a (drug, indication) match counts as adverse
/// when a chemical mention overlapping the drug and a disease mention overlapping the indication form one of the
/// abstract's CID relations.
pub struct Bc5cdrSentences {
    sentences: Vec<MentionedSentence>,
    cid: Vec<HashSet<(String, String)>>,
}

impl Bc5cdrSentences {
    /// Split every abstract into sentences and keep each sentence's chemical and disease mentions.
    pub fn new(docs: &[PubtatorDoc]) -> Self {
        let mut sentences = Vec::new();
        let mut cid = Vec::new();
        for (di, doc) in docs.iter().enumerate() {
            let text: Vec<char> = doc.text().chars().collect();
            cid.push(doc.relations.iter().cloned().collect());
            for (s, e) in doc_sentences(doc) {
                let inside = |kind: &str| -> Vec<(Span, Vec<String>)> {
                    doc.mentions
                        .iter()
                        .filter(|m| m.kind == kind && s <= m.start && m.end <= e)
                        .map(|m| ((m.start - s, m.end - s), m.ids.clone()))
                        .collect()
                };
                sentences.push(MentionedSentence {
                    pmid: doc.pmid.clone(),
                    sentence: text[s..e].iter().collect(),
                    chemicals: inside("Chemical"),
                    diseases: inside("Disease"),
                    doc: di,
                });
            }
        }
        Bc5cdrSentences { sentences, cid }
    }

    /// Whether a drug span and an indication span of sentence `m` form one of its abstract's CID relations.
    fn adverse(&self, m: &MentionedSentence, drug: Span, indication: Span) -> bool {
        let overlap = |a: Span, b: Span| a.0 < b.1 && b.0 < a.1;
        let cid = &self.cid[m.doc];
        let ids = |mentions: &[(Span, Vec<String>)], at: Span| -> Vec<String> {
            mentions
                .iter()
                .filter(|(span, _)| overlap(*span, at))
                .flat_map(|(_, ids)| ids.iter().cloned())
                .collect()
        };
        let (chems, diss) = (ids(&m.chemicals, drug), ids(&m.diseases, indication));
        chems
            .iter()
            .any(|c| diss.iter().any(|d| cid.contains(&(c.clone(), d.clone()))))
    }

    /// Indication negatives of these sentences (see [`indication_examples`]).
    pub fn indication_examples(
        &self,
        lexicon: &IndicationLexicon,
        exclude: &HashSet<(String, String)>,
    ) -> Vec<RelationExample> {
        let tests: Vec<_> = self
            .sentences
            .iter()
            .map(|m| move |d: Span, t: Span| self.adverse(m, d, t))
            .collect();
        indication_examples(
            lexicon,
            self.sentences
                .iter()
                .zip(&tests)
                .map(|(m, test)| SearchSentence {
                    pmid: &m.pmid,
                    sentence: &m.sentence,
                    adverse: test,
                }),
            exclude,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::pubtator::parse_pubtator;

    const DOC: &str = "1|t|Lithium-induced polyuria\n\
1|a|A woman on lithium for bipolar disorder had polyuria. Haloperidol was added. She later developed tremor.\n\
1\t0\t7\tLithium\tChemical\tD1\n\
1\t16\t24\tpolyuria\tDisease\tD2\n\
1\t36\t43\tlithium\tChemical\tD1\n\
1\t48\t64\tbipolar disorder\tDisease\tD3\n\
1\t69\t77\tpolyuria\tDisease\tD2\n\
1\t79\t90\tHaloperidol\tChemical\tD4\n\
1\t122\t128\ttremor\tDisease\tD5\n\
1\t79\t90\tHaloperidol\tChemical\t-1\n\
1\tCID\tD1\tD2\n\
1\tCID\tD4\tD5\n\n";

    fn docs() -> Vec<PubtatorDoc> {
        parse_pubtator(DOC.as_bytes()).unwrap()
    }

    #[test]
    fn title_is_its_own_sentence() {
        let d = &docs()[0];
        let s = doc_sentences(d);
        let text: Vec<char> = d.text().chars().collect();
        let t: Vec<String> = s
            .iter()
            .map(|&(a, b)| text[a..b].iter().collect())
            .collect();
        assert_eq!(
            t,
            vec![
                "Lithium-induced polyuria",
                "A woman on lithium for bipolar disorder had polyuria.",
                "Haloperidol was added.",
                "She later developed tremor."
            ]
        );
    }

    #[test]
    fn pairs_are_labelled_by_cid_and_take_the_nearest_sentences() {
        let pairs = cid_pairs(&docs(), 3);
        // chemicals D1, D4 × diseases D2, D3, D5
        assert_eq!(pairs.len(), 6);
        let get = |c: &str, d: &str| {
            pairs
                .iter()
                .find(|p| p.chemical == c && p.disease == d)
                .unwrap()
        };
        let li_pu = get("D1", "D2");
        assert!(li_pu.label && li_pu.distance == 0);
        // same-sentence in the title and in sentence 2: two context pairs, in text order, both one sentence
        assert_eq!(li_pu.contexts.len(), 2);
        assert!(li_pu.contexts.iter().all(|c| c.effect_context.is_none()));
        assert_eq!(li_pu.contexts[0].sentence, "Lithium-induced polyuria");
        assert_eq!(li_pu.contexts[1].drug_span, (11, 18));
        assert_eq!(li_pu.contexts[1].kind, ExampleKind::CidRelation);
        let li_bd = get("D1", "D3");
        assert!(!li_bd.label && li_bd.distance == 0 && li_bd.contexts.len() == 1);
        assert_eq!(li_bd.contexts[0].kind, ExampleKind::CidOther);
        // Haloperidol (sentence 2) → tremor (sentence 3): a cross-sentence positive
        let ha_tr = get("D4", "D5");
        assert!(ha_tr.label && ha_tr.cross_sentence() && ha_tr.distance == 1);
        let c = &ha_tr.contexts[0];
        assert_eq!(c.sentence, "Haloperidol was added.");
        let eff = c.effect_context.as_ref().unwrap();
        assert_eq!(eff.sentence, "She later developed tremor.");
        assert_eq!(
            eff.sentence
                .chars()
                .skip(c.effect_span.0)
                .take(6)
                .collect::<String>(),
            "tremor"
        );
        // Haloperidol → polyuria: sentence 1 is one away from sentence 2 and so is... only sentence 1
        let ha_pu = get("D4", "D2");
        assert_eq!((ha_pu.distance, ha_pu.contexts.len()), (1, 1));
        let st = cid_stats(&pairs);
        assert_eq!(
            (st.cid_pairs, st.cid_cross_sentence, st.other_pairs),
            (2, 1, 4)
        );
        // the cap holds
        assert!(cid_pairs(&docs(), 1).iter().all(|p| p.contexts.len() == 1));
        // contexts flatten in pair order, and a pair scores its best context
        let (ex, of) = flatten_contexts(&pairs);
        assert_eq!(ex.len(), st.contexts);
        assert_eq!(of.len(), ex.len());
        assert!(of.windows(2).all(|w| w[0] <= w[1]));
        let scores: Vec<f64> = (0..ex.len()).map(|i| i as f64 / 10.0).collect();
        let best = max_per_pair(&scores, &of, pairs.len());
        let first_of_li_pu = pairs
            .iter()
            .position(|p| p.chemical == "D1" && p.disease == "D2")
            .unwrap();
        let last = of.iter().rposition(|&p| p == first_of_li_pu).unwrap();
        assert_eq!(best[first_of_li_pu], scores[last]);
        assert_eq!(
            max_per_pair(&[0.9], &[5], 2),
            vec![0.0, 0.0],
            "out-of-range pair ignored"
        );
    }

    fn lexicon() -> IndicationLexicon {
        let ind = |s: &str, c: &str, name: &str, term: &str| Indication {
            stitch_id: s.into(),
            meddra_id: c.into(),
            concept_name: name.into(),
            term: term.into(),
        };
        let inds = vec![
            ind("CID1", "C1", "Bipolar Disorder", "Bipolar disorder"),
            ind("CID2", "C2", "Pain", "Pain"),
        ];
        let names = HashMap::from([
            ("CID1".to_string(), "lithium".to_string()),
            ("CID2".to_string(), "aspirin".to_string()),
        ]);
        IndicationLexicon::new(&inds, &names)
    }

    #[test]
    fn indications_match_listed_pairs_only() {
        let lex = lexicon();
        assert_eq!(lex.pair_count(), 2);
        let s = "Lithium for BIPOLAR DISORDER and aspirin for pain; lithium-treated pain.";
        let found = lex.find(s);
        let chars: Vec<char> = s.chars().collect();
        let text = |(b, e): Span| chars[b..e].iter().collect::<String>();
        let got: Vec<(String, String)> = found.iter().map(|&(d, t)| (text(d), text(t))).collect();
        assert_eq!(
            got,
            vec![
                ("Lithium".into(), "BIPOLAR DISORDER".into()),
                ("aspirin".into(), "pain".into()),
                ("aspirin".into(), "pain".into()),
                ("lithium".into(), "BIPOLAR DISORDER".into()),
            ]
        );
        // lithium–pain is not listed; 'painful' is not the whole word 'pain'
        assert!(lex.find("lithium for painful joints").is_empty());
    }

    #[test]
    fn indication_examples_skip_adverse_and_excluded_pairs() {
        let lex = lexicon();
        let never = |_: Span, _: Span| false;
        let always = |_: Span, _: Span| true;
        let s1 = "Aspirin was given for pain and aspirin again for pain.";
        let mk = |sentence, adverse| SearchSentence {
            pmid: "9",
            sentence,
            adverse,
        };
        let ex = indication_examples(&lex, [mk(s1, &never)], &HashSet::new());
        assert_eq!(ex.len(), 1, "one example per folded pair per sentence");
        assert_eq!(ex[0].kind, ExampleKind::Indication);
        assert!(!ex[0].label && ex[0].effect_context.is_none());
        assert!(indication_examples(&lex, [mk(s1, &always)], &HashSet::new()).is_empty());
        let excl = HashSet::from([("aspirin".to_string(), "pain".to_string())]);
        assert!(indication_examples(&lex, [mk(s1, &never)], &excl).is_empty());
    }

    #[test]
    fn bc5cdr_sentences_treat_cid_pairs_as_adverse() {
        let inds = vec![
            Indication {
                stitch_id: "CID1".into(),
                meddra_id: "C1".into(),
                concept_name: "Bipolar Disorder".into(),
                term: "Bipolar disorder".into(),
            },
            Indication {
                stitch_id: "CID1".into(),
                meddra_id: "C2".into(),
                concept_name: "Polyuria".into(),
                term: "Polyuria".into(),
            },
        ];
        let names = HashMap::from([("CID1".to_string(), "lithium".to_string())]);
        let lex = IndicationLexicon::new(&inds, &names);
        let ex = Bc5cdrSentences::new(&docs()).indication_examples(&lex, &HashSet::new());
        // lithium–bipolar disorder is kept; lithium–polyuria is a CID relation of the abstract
        let got: Vec<(&str, &str)> = ex
            .iter()
            .map(|e| (e.drug.as_str(), e.effect.as_str()))
            .collect();
        assert_eq!(got, vec![("lithium", "bipolar disorder")]);
    }
}
