//! ADE Corpus V2 (Gurulingappa et al., J Biomed Inform 2012): drug / adverse-effect relations in
//! PubMed case-report sentences, used to train and evaluate the relation model (`crag_score`).
//!
//! Files (see the corpus README):
//! * `DRUG-AE.rel`: `PMID|sentence|effect|effect_begin|effect_end|drug|drug_begin|drug_end`. The offsets are
//!   **document-level**, end-exclusive character offsets into `PMID\n\nTitle\n\nAbstract`, not into the
//!   sentence (e.g. `10030778|Intravenous azithromycin-induced ototoxicity.|…|azithromycin|22|34`: the title
//!   starts at 10 = `len("10030778\n\n")`). The real file is pure ASCII, so character and byte offsets
//!   coincide there; this module treats them as characters. A sentence with several pairs repeats once per pair.
//! * `ADE-NEG.txt`: `PMID NEG sentence` (single spaces, fixed string `NEG`), sentences with no drug-related
//!   adverse effect.
//!
//! Sentence-level offsets are recovered by locating each mention in its sentence. Every row of one
//! (PMID, sentence) group shares one document offset of the sentence start, so for each row we keep the
//! occurrence pair (effect, drug) that implies the same sentence start, and break ties across a group by
//! majority vote. All spans in this module are end-exclusive **char** (Unicode scalar) offsets.
//!
//! Evaluation protocols (pairs are identified by their case-folded, trimmed strings):
//! * hard ([`hard_protocol`]): positives = annotated pairs; negatives = un-annotated (annotated drug,
//!   annotated effect) combinations inside the same sentence, plus dictionary (drug, effect) mention pairs in
//!   ADE-NEG sentences. Both mentions of every example come from one sentence.
//! * card ([`card_protocol`]): positives plus 1:1 random mismatched negatives, for comparison only.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{CragError, Result};

/// File name of the drug / adverse-effect relations.
pub const DRUG_AE_FILE: &str = "DRUG-AE.rel";
/// File name of the negative sentences.
pub const ADE_NEG_FILE: &str = "ADE-NEG.txt";

/// A char span `[begin, end)`.
pub type Span = (usize, usize);

/// One row of `DRUG-AE.rel`, with document-level and sentence-level offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdeRelation {
    /// PubMed id.
    pub pmid: String,
    /// The sentence, verbatim.
    pub sentence: String,
    /// Adverse-effect mention, verbatim (may carry stray spaces, as in the file).
    pub effect: String,
    /// Effect offsets as given in the file (document level).
    pub effect_doc_span: Span,
    /// Effect char offsets into `sentence`.
    pub effect_span: Span,
    /// Drug mention, verbatim.
    pub drug: String,
    /// Drug offsets as given in the file (document level).
    pub drug_doc_span: Span,
    /// Drug char offsets into `sentence`.
    pub drug_span: Span,
    /// 1-based line number in the source file.
    pub line: usize,
}

/// Which mention of a relation row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MentionKind {
    /// The drug.
    Drug,
    /// The adverse effect.
    Effect,
}

/// A mention that does not occur in its sentence (its row is dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlocatedMention {
    /// 1-based line number.
    pub line: usize,
    /// PubMed id.
    pub pmid: String,
    /// Which mention.
    pub kind: MentionKind,
    /// The mention text.
    pub mention: String,
}

/// Result of parsing `DRUG-AE.rel`, with diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrugAeParse {
    /// Located relations, in file order (exact duplicate lines removed).
    pub relations: Vec<AdeRelation>,
    /// Number of lines that exactly repeat an earlier line (dropped).
    pub duplicate_lines: usize,
    /// Mentions not found in their sentence; their rows are not in `relations`.
    pub unlocated: Vec<UnlocatedMention>,
    /// Rows whose two mentions do not imply one common sentence start (each mention was then located on
    /// its own: nearest to the group's sentence start, case-insensitive if needed).
    pub offset_mismatches: usize,
    /// Rows whose document span length differs from the mention's char length.
    pub length_mismatches: usize,
}

/// One line of `ADE-NEG.txt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NegSentence {
    /// PubMed id.
    pub pmid: String,
    /// The sentence, verbatim.
    pub sentence: String,
}

/// All relations of one (PMID, sentence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdeSentence {
    /// PubMed id.
    pub pmid: String,
    /// The sentence.
    pub sentence: String,
    /// Its annotated relations, in file order.
    pub relations: Vec<AdeRelation>,
}

/// The corpus: relation sentences grouped by (PMID, sentence) and the negative sentences.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdeCorpus {
    /// Relation sentences, in order of first appearance.
    pub sentences: Vec<AdeSentence>,
    /// ADE-NEG sentences, deduplicated on (PMID, sentence), first occurrence kept.
    pub neg_sentences: Vec<NegSentence>,
    /// ADE-NEG lines before deduplication.
    pub neg_lines: usize,
    /// `DRUG-AE.rel` diagnostics (`relations` is emptied; they live in `sentences`).
    pub report: DrugAeParse,
}

/// Parse `DRUG-AE.rel` and return the located relations (see [`parse_drug_ae_report`] for diagnostics).
pub fn parse_drug_ae(reader: impl Read) -> Result<Vec<AdeRelation>> {
    Ok(parse_drug_ae_report(reader)?.relations)
}

struct RawRow {
    line: usize,
    pmid: String,
    sentence: String,
    effect: String,
    effect_doc: Span,
    drug: String,
    drug_doc: Span,
}

/// Parse `DRUG-AE.rel` (also fits `DRUG-DOSE.rel`, dose in the effect column). Malformed lines are an error
/// naming the line; unlocatable mentions are reported, not fatal.
pub fn parse_drug_ae_report(reader: impl Read) -> Result<DrugAeParse> {
    let mut out = DrugAeParse::default();
    let mut seen_lines = HashSet::new();
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| CragError::io("reading DRUG-AE.rel", e))?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.trim().is_empty() {
            continue;
        }
        if !seen_lines.insert(line.to_string()) {
            out.duplicate_lines += 1;
            continue;
        }
        rows.push(parse_rel_line(line, i + 1)?);
    }
    let mut groups: HashMap<(&str, &str), Vec<&RawRow>> = HashMap::new();
    let mut order = Vec::new();
    for r in &rows {
        let key = (r.pmid.as_str(), r.sentence.as_str());
        let g = groups.entry(key).or_default();
        if g.is_empty() {
            order.push(key);
        }
        g.push(r);
    }
    for key in order {
        if let Some(g) = groups.get(&key) {
            resolve_group(g, &mut out);
        }
    }
    out.relations.sort_by_key(|r| r.line);
    Ok(out)
}

fn parse_rel_line(line: &str, n: usize) -> Result<RawRow> {
    let bad = |what: String| CragError::invalid(format!("DRUG-AE line {n}: {what}"));
    let cols: Vec<&str> = line.split('|').collect();
    if cols.len() != 8 {
        return Err(bad(format!(
            "expected 8 pipe-separated fields, got {}",
            cols.len()
        )));
    }
    check_pmid(cols[0]).map_err(bad)?;
    let num = |s: &str, what: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| bad(format!("{what} offset {s:?} is not a non-negative integer")))
    };
    let span = |b: &str, e: &str, what: &str| -> Result<Span> {
        let (b, e) = (num(b, what)?, num(e, what)?);
        if b > e {
            return Err(bad(format!("{what} begin {b} > end {e}")));
        }
        Ok((b, e))
    };
    if cols[1].is_empty() || cols[2].is_empty() || cols[5].is_empty() {
        return Err(bad("empty sentence, effect or drug".into()));
    }
    Ok(RawRow {
        line: n,
        pmid: cols[0].to_string(),
        sentence: cols[1].to_string(),
        effect: cols[2].to_string(),
        effect_doc: span(cols[3], cols[4], "effect")?,
        drug: cols[5].to_string(),
        drug_doc: span(cols[6], cols[7], "drug")?,
    })
}

fn check_pmid(p: &str) -> std::result::Result<(), String> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("PMID {p:?} is not numeric"));
    }
    Ok(())
}

/// Locate the mentions of one (PMID, sentence) group; see the module docs.
fn resolve_group(rows: &[&RawRow], out: &mut DrugAeParse) {
    let Some(first) = rows.first() else { return };
    let chars: Vec<char> = first.sentence.chars().collect();
    let mut votes: HashMap<usize, usize> = HashMap::new();
    let mut per_row = Vec::with_capacity(rows.len());
    for r in rows {
        let starts = |m: &str, doc_begin: usize| -> BTreeSet<usize> {
            let m: Vec<char> = m.chars().collect();
            occurrences(&chars, &m, false)
                .into_iter()
                .filter_map(|o| doc_begin.checked_sub(o))
                .collect()
        };
        let se = starts(&r.effect, r.effect_doc.0);
        let sd = starts(&r.drug, r.drug_doc.0);
        let common: BTreeSet<usize> = se.intersection(&sd).copied().collect();
        let voters = if common.is_empty() {
            &se | &sd
        } else {
            common.clone()
        };
        for s in voters {
            *votes.entry(s).or_default() += 1;
        }
        per_row.push(common);
    }
    let best = votes
        .iter()
        .max_by_key(|(s, n)| (**n, Reverse(**s)))
        .map(|(s, _)| *s);
    for (r, common) in rows.iter().zip(per_row) {
        let start = match best {
            Some(b) if common.contains(&b) => Some(b),
            _ => common
                .iter()
                .max_by_key(|s| (votes.get(s).copied().unwrap_or(0), Reverse(**s)))
                .copied(),
        };
        let (ec, dc) = (r.effect.chars().count(), r.drug.chars().count());
        let located = match start {
            Some(s) => r
                .effect_doc
                .0
                .checked_sub(s)
                .zip(r.drug_doc.0.checked_sub(s)),
            None => {
                out.offset_mismatches += 1;
                let e = locate_alone(&chars, &r.effect, r.effect_doc.0, best);
                let d = locate_alone(&chars, &r.drug, r.drug_doc.0, best);
                for (pos, kind, m) in [
                    (e, MentionKind::Effect, &r.effect),
                    (d, MentionKind::Drug, &r.drug),
                ] {
                    if pos.is_none() {
                        out.unlocated.push(UnlocatedMention {
                            line: r.line,
                            pmid: r.pmid.clone(),
                            kind,
                            mention: m.clone(),
                        });
                    }
                }
                e.zip(d)
            }
        };
        let Some((e, d)) = located else { continue };
        if r.effect_doc.1 - r.effect_doc.0 != ec || r.drug_doc.1 - r.drug_doc.0 != dc {
            out.length_mismatches += 1;
        }
        out.relations.push(AdeRelation {
            pmid: r.pmid.clone(),
            sentence: r.sentence.clone(),
            effect: r.effect.clone(),
            effect_doc_span: r.effect_doc,
            effect_span: (e, e + ec),
            drug: r.drug.clone(),
            drug_doc_span: r.drug_doc,
            drug_span: (d, d + dc),
            line: r.line,
        });
    }
}

/// Position of `mention` in `chars` whose implied sentence start is nearest `best` (exact match first,
/// then case-insensitive); `None` if it does not occur.
fn locate_alone(
    chars: &[char],
    mention: &str,
    doc_begin: usize,
    best: Option<usize>,
) -> Option<usize> {
    let m: Vec<char> = mention.chars().collect();
    let mut occ = occurrences(chars, &m, false);
    if occ.is_empty() {
        occ = occurrences(chars, &m, true);
    }
    match best {
        Some(b) => occ.into_iter().min_by_key(|&o| doc_begin.abs_diff(o + b)),
        None => occ.into_iter().next(),
    }
}

/// Start positions of `needle` in `hay` (chars), optionally case-insensitive.
fn occurrences(hay: &[char], needle: &[char], fold: bool) -> Vec<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return Vec::new();
    }
    (0..=hay.len() - needle.len())
        .filter(|&i| {
            hay[i..i + needle.len()]
                .iter()
                .zip(needle)
                .all(|(a, b)| a == b || (fold && fold_char(*a) == fold_char(*b)))
        })
        .collect()
}

/// One-to-one lower-casing, so char offsets survive folding.
fn fold_char(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// Case-folded, trimmed form used to compare mention strings.
pub fn fold(s: &str) -> String {
    s.trim().chars().map(fold_char).collect()
}

/// Parse `ADE-NEG.txt` (`PMID NEG sentence`); a malformed line is an error naming the line.
pub fn parse_ade_neg(reader: impl Read) -> Result<Vec<NegSentence>> {
    let mut out = Vec::new();
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| CragError::io("reading ADE-NEG.txt", e))?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.trim().is_empty() {
            continue;
        }
        let bad = |what: &str| CragError::invalid(format!("ADE-NEG line {}: {what}", i + 1));
        let (pmid, rest) = line
            .split_once(' ')
            .ok_or_else(|| bad("expected `PMID NEG sentence`"))?;
        check_pmid(pmid).map_err(|e| bad(&e))?;
        let sentence = rest
            .strip_prefix("NEG ")
            .ok_or_else(|| bad("second field is not `NEG`"))?;
        if sentence.trim().is_empty() {
            return Err(bad("empty sentence"));
        }
        out.push(NegSentence {
            pmid: pmid.to_string(),
            sentence: sentence.to_string(),
        });
    }
    Ok(out)
}

impl AdeCorpus {
    /// Group parsed relations by (PMID, sentence) and deduplicate negative sentences.
    pub fn from_parts(mut parse: DrugAeParse, negs: Vec<NegSentence>) -> Self {
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        let mut sentences: Vec<AdeSentence> = Vec::new();
        for r in std::mem::take(&mut parse.relations) {
            let key = (r.pmid.clone(), r.sentence.clone());
            let i = *index.entry(key).or_insert_with(|| {
                sentences.push(AdeSentence {
                    pmid: r.pmid.clone(),
                    sentence: r.sentence.clone(),
                    relations: Vec::new(),
                });
                sentences.len() - 1
            });
            sentences[i].relations.push(r);
        }
        let neg_lines = negs.len();
        let mut seen = HashSet::new();
        let neg_sentences = negs
            .into_iter()
            .filter(|n| seen.insert((n.pmid.clone(), n.sentence.clone())))
            .collect();
        AdeCorpus {
            sentences,
            neg_sentences,
            neg_lines,
            report: parse,
        }
    }

    /// All PMIDs of relation and negative sentences.
    pub fn pmids(&self) -> BTreeSet<String> {
        let rel = self.sentences.iter().map(|s| s.pmid.clone());
        rel.chain(self.neg_sentences.iter().map(|s| s.pmid.clone()))
            .collect()
    }

    /// Number of located relations.
    pub fn relation_count(&self) -> usize {
        self.sentences.iter().map(|s| s.relations.len()).sum()
    }

    /// Every annotated pair in the corpus as folded `(drug, effect)` strings.
    pub fn annotated_pairs(&self) -> HashSet<(String, String)> {
        self.sentences
            .iter()
            .flat_map(|s| &s.relations)
            .map(|r| (fold(&r.drug), fold(&r.effect)))
            .collect()
    }
}

/// Read `DRUG-AE.rel` and `ADE-NEG.txt` from the corpus directory.
pub fn read_ade_corpus(dir: &Path) -> Result<AdeCorpus> {
    let open = |f: &str| {
        let p = dir.join(f);
        std::fs::File::open(&p).map_err(|e| CragError::io(format!("opening {}", p.display()), e))
    };
    let parse = parse_drug_ae_report(open(DRUG_AE_FILE)?)?;
    let negs = parse_ade_neg(open(ADE_NEG_FILE)?)?;
    Ok(AdeCorpus::from_parts(parse, negs))
}

/// One of the three evaluation splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Split {
    /// Training.
    Train,
    /// Validation.
    Val,
    /// Test.
    Test,
}

impl Split {
    /// The three splits in order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Val, Split::Test];
}

/// A disjoint assignment of PMIDs to train / validation / test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PmidSplit {
    /// Seed used.
    pub seed: u64,
    /// Normalised (train, val, test) fractions.
    pub fractions: (f64, f64, f64),
    /// Training PMIDs.
    pub train: BTreeSet<String>,
    /// Validation PMIDs.
    pub val: BTreeSet<String>,
    /// Test PMIDs.
    pub test: BTreeSet<String>,
}

/// Assign each PMID to a split by `sha256(seed, pmid)` against cumulative `fractions` (normalised to sum 1).
/// A PMID's split depends only on (seed, fractions, PMID), not on the other PMIDs, so every sentence of an
/// abstract, from either file, lands in the same split. Fractions must be finite, >= 0, with a positive sum.
pub fn split_by_pmid<I, S>(pmids: I, seed: u64, fractions: (f64, f64, f64)) -> Result<PmidSplit>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let (a, b, c) = fractions;
    let sum = a + b + c;
    if [a, b, c].iter().any(|f| !f.is_finite() || *f < 0.0) || sum.is_nan() || sum <= 0.0 {
        return Err(CragError::invalid(format!(
            "split fractions must be finite, >= 0 and not all 0, got {fractions:?}"
        )));
    }
    let mut split = PmidSplit {
        seed,
        fractions: (a / sum, b / sum, c / sum),
        train: BTreeSet::new(),
        val: BTreeSet::new(),
        test: BTreeSet::new(),
    };
    for p in pmids {
        let p = p.as_ref();
        let set = match split.assign(p) {
            Split::Train => &mut split.train,
            Split::Val => &mut split.val,
            Split::Test => &mut split.test,
        };
        set.insert(p.to_string());
    }
    Ok(split)
}

impl PmidSplit {
    /// The split `pmid` is (or would be) assigned to under this seed and these fractions.
    pub fn assign(&self, pmid: &str) -> Split {
        let mut h = Sha256::new();
        h.update(b"crag-ade-split\0");
        h.update(self.seed.to_le_bytes());
        h.update(pmid.as_bytes());
        let d = h.finalize();
        let mut x = [0u8; 8];
        x.copy_from_slice(&d[..8]);
        let u = (u64::from_be_bytes(x) >> 11) as f64 / (1u64 << 53) as f64;
        let (t, v, _) = self.fractions;
        if u < t {
            Split::Train
        } else if u < t + v {
            Split::Val
        } else {
            Split::Test
        }
    }

    /// The split holding `pmid`, if it was among the split PMIDs.
    pub fn split_of(&self, pmid: &str) -> Option<Split> {
        Split::ALL
            .into_iter()
            .find(|s| self.pmids(*s).contains(pmid))
    }

    /// PMIDs of one split.
    pub fn pmids(&self, split: Split) -> &BTreeSet<String> {
        match split {
            Split::Train => &self.train,
            Split::Val => &self.val,
            Split::Test => &self.test,
        }
    }

    /// Error if any PMID is in two splits.
    pub fn check_disjoint(&self) -> Result<()> {
        for (x, y) in [
            (Split::Train, Split::Val),
            (Split::Train, Split::Test),
            (Split::Val, Split::Test),
        ] {
            if let Some(p) = self.pmids(x).intersection(self.pmids(y)).next() {
                return Err(CragError::invalid(format!(
                    "PMID {p} is in both {x:?} and {y:?}"
                )));
            }
        }
        Ok(())
    }
}

/// Where an example comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ExampleKind {
    /// An annotated pair (positive).
    Annotated,
    /// Un-annotated combination of annotated mentions of one relation sentence (hard negative).
    SentenceCombination,
    /// Dictionary drug and effect mentions in one ADE-NEG sentence (hard negative).
    NegSentenceDictionary,
    /// Drug of one pair with the effect of another sentence (card negative).
    Mismatched,
    /// A BC5CDR chemical–disease pair listed as a CID relation (positive; one or two sentences).
    CidRelation,
    /// A BC5CDR chemical–disease pair of one abstract that is not a CID relation (negative).
    CidOther,
    /// A SIDER drug–indication pair found in one sentence and not annotated as adverse there (negative).
    Indication,
}

/// A sentence identified by PMID, used when an effect comes from another sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceRef {
    /// PubMed id.
    pub pmid: String,
    /// The sentence.
    pub sentence: String,
}

/// One labelled (drug, effect) example with its sentence context and char spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationExample {
    /// PubMed id of `sentence`.
    pub pmid: String,
    /// Context of the drug (and of the effect unless `effect_context` is set).
    pub sentence: String,
    /// Drug mention as it appears in `sentence`.
    pub drug: String,
    /// Drug char span in `sentence`.
    pub drug_span: Span,
    /// Effect mention.
    pub effect: String,
    /// Effect char span in its context.
    pub effect_span: Span,
    /// True for an annotated pair.
    pub label: bool,
    /// Provenance.
    pub kind: ExampleKind,
    /// Set only by the card protocol: the effect's own sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect_context: Option<SentenceRef>,
}

impl RelationExample {
    /// The sentence the effect span refers to.
    pub fn effect_sentence(&self) -> &str {
        self.effect_context
            .as_ref()
            .map_or(self.sentence.as_str(), |c| c.sentence.as_str())
    }
}

/// Case-insensitive, whole-word dictionary of drug and effect strings.
#[derive(Debug, Clone, Default)]
pub struct MentionDictionary {
    drugs: TermIndex,
    effects: TermIndex,
}

/// Terms keyed by their first token (leading alphanumeric run, or the first char if not alphanumeric).
#[derive(Debug, Clone, Default)]
struct TermIndex {
    by_key: HashMap<String, Vec<Vec<char>>>,
    len: usize,
}

/// Dictionary terms shorter than this (in chars, after trimming) are ignored.
pub const MIN_TERM_CHARS: usize = 2;

impl TermIndex {
    fn insert(&mut self, term: &str) {
        let t: Vec<char> = fold(term).chars().collect();
        if t.len() < MIN_TERM_CHARS {
            return;
        }
        let list = self.by_key.entry(key_at(&t, 0)).or_default();
        if !list.contains(&t) {
            list.push(t);
            self.len += 1;
        }
    }

    /// Maximal whole-word matches in folded `s` (matches inside a longer match are dropped).
    fn find(&self, s: &[char]) -> Vec<Span> {
        let alnum = |i: usize| s.get(i).is_some_and(|c| c.is_alphanumeric());
        let mut found = Vec::new();
        for i in 0..s.len() {
            if alnum(i) && i > 0 && alnum(i - 1) {
                continue;
            }
            let Some(cands) = self.by_key.get(&key_at(s, i)) else {
                continue;
            };
            for t in cands {
                let end = i + t.len();
                let ends_word = !t.last().is_some_and(|c| c.is_alphanumeric()) || !alnum(end);
                if end <= s.len() && s[i..end] == t[..] && ends_word {
                    found.push((i, end));
                }
            }
        }
        let all = found.clone();
        found.retain(|&(b, e)| {
            !all.iter()
                .any(|&(b2, e2)| b2 <= b && e <= e2 && (b2, e2) != (b, e))
        });
        found.sort_unstable();
        found.dedup();
        found
    }
}

fn key_at(s: &[char], i: usize) -> String {
    match s.get(i) {
        Some(c) if c.is_alphanumeric() => {
            s[i..].iter().take_while(|c| c.is_alphanumeric()).collect()
        }
        Some(c) => c.to_string(),
        None => String::new(),
    }
}

impl MentionDictionary {
    /// Dictionary from explicit drug and effect strings.
    pub fn from_terms<D, E>(drugs: D, effects: E) -> Self
    where
        D: IntoIterator,
        D::Item: AsRef<str>,
        E: IntoIterator,
        E::Item: AsRef<str>,
    {
        let mut d = MentionDictionary::default();
        drugs.into_iter().for_each(|t| d.drugs.insert(t.as_ref()));
        effects
            .into_iter()
            .for_each(|t| d.effects.insert(t.as_ref()));
        d
    }

    /// Dictionary of the corpus's annotated drug and effect strings, from the relations of `pmids` only
    /// (pass the train split to keep validation / test annotations out of negative construction), or of all
    /// relations when `pmids` is `None`.
    pub fn from_corpus(corpus: &AdeCorpus, pmids: Option<&BTreeSet<String>>) -> Self {
        let rels: Vec<&AdeRelation> = corpus
            .sentences
            .iter()
            .filter(|s| pmids.is_none_or(|p| p.contains(&s.pmid)))
            .flat_map(|s| &s.relations)
            .collect();
        Self::from_terms(
            rels.iter().map(|r| r.drug.as_str()),
            rels.iter().map(|r| r.effect.as_str()),
        )
    }

    /// Number of distinct (folded) drug terms.
    pub fn drug_count(&self) -> usize {
        self.drugs.len
    }

    /// Number of distinct (folded) effect terms.
    pub fn effect_count(&self) -> usize {
        self.effects.len
    }

    /// Maximal whole-word, case-insensitive drug and effect matches in `sentence`, as char spans.
    pub fn find(&self, sentence: &str) -> (Vec<Span>, Vec<Span>) {
        let s: Vec<char> = sentence.chars().map(fold_char).collect();
        (self.drugs.find(&s), self.effects.find(&s))
    }
}

fn overlaps(a: Span, b: Span) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn char_slice(chars: &[char], (b, e): Span) -> String {
    chars
        .get(b..e)
        .map(|c| c.iter().collect())
        .unwrap_or_default()
}

fn in_filter(pmids: Option<&BTreeSet<String>>, pmid: &str) -> bool {
    pmids.is_none_or(|p| p.contains(pmid))
}

/// Annotated pairs of the sentences in `pmids` (all if `None`), one per folded (drug, effect) per
/// sentence, first annotation's spans kept.
pub fn positives(corpus: &AdeCorpus, pmids: Option<&BTreeSet<String>>) -> Vec<RelationExample> {
    let mut out = Vec::new();
    for s in corpus
        .sentences
        .iter()
        .filter(|s| in_filter(pmids, &s.pmid))
    {
        let mut seen = HashSet::new();
        for r in &s.relations {
            if seen.insert((fold(&r.drug), fold(&r.effect))) {
                out.push(RelationExample {
                    pmid: s.pmid.clone(),
                    sentence: s.sentence.clone(),
                    drug: r.drug.clone(),
                    drug_span: r.drug_span,
                    effect: r.effect.clone(),
                    effect_span: r.effect_span,
                    label: true,
                    kind: ExampleKind::Annotated,
                    effect_context: None,
                });
            }
        }
    }
    out
}

/// Hard protocol for the sentences whose PMID is in `pmids` (all if `None`): [`positives`], then
/// negatives from one sentence each: (1) every (annotated drug, annotated effect) combination of a relation
/// sentence, and (2) every (dictionary drug, dictionary effect) match pair of an ADE-NEG sentence. A negative
/// is dropped if its mentions overlap or its folded pair is annotated anywhere in the corpus (so a string
/// pair never carries both labels). Negatives are unique per sentence and folded pair.
pub fn hard_protocol(
    corpus: &AdeCorpus,
    pmids: Option<&BTreeSet<String>>,
    dictionary: &MentionDictionary,
) -> Vec<RelationExample> {
    let annotated = corpus.annotated_pairs();
    let mut out = positives(corpus, pmids);
    let mut push_neg = |seen: &mut HashSet<(String, String)>,
                        pmid: &str,
                        sentence: &str,
                        drug: (String, Span),
                        effect: (String, Span),
                        kind: ExampleKind| {
        let key = (fold(&drug.0), fold(&effect.0));
        if overlaps(drug.1, effect.1) || annotated.contains(&key) || !seen.insert(key) {
            return;
        }
        out.push(RelationExample {
            pmid: pmid.to_string(),
            sentence: sentence.to_string(),
            drug: drug.0,
            drug_span: drug.1,
            effect: effect.0,
            effect_span: effect.1,
            label: false,
            kind,
            effect_context: None,
        });
    };
    for s in corpus
        .sentences
        .iter()
        .filter(|s| in_filter(pmids, &s.pmid))
    {
        let mut drugs: Vec<(String, Span)> = Vec::new();
        let mut effects: Vec<(String, Span)> = Vec::new();
        let (mut dk, mut ek) = (HashSet::new(), HashSet::new());
        for r in &s.relations {
            if dk.insert(fold(&r.drug)) {
                drugs.push((r.drug.clone(), r.drug_span));
            }
            if ek.insert(fold(&r.effect)) {
                effects.push((r.effect.clone(), r.effect_span));
            }
        }
        let mut seen = HashSet::new();
        for d in &drugs {
            for e in &effects {
                push_neg(
                    &mut seen,
                    &s.pmid,
                    &s.sentence,
                    d.clone(),
                    e.clone(),
                    ExampleKind::SentenceCombination,
                );
            }
        }
    }
    for n in corpus
        .neg_sentences
        .iter()
        .filter(|n| in_filter(pmids, &n.pmid))
    {
        let (ds, es) = dictionary.find(&n.sentence);
        if ds.is_empty() || es.is_empty() {
            continue;
        }
        let chars: Vec<char> = n.sentence.chars().collect();
        let mut seen = HashSet::new();
        for &d in &ds {
            for &e in &es {
                push_neg(
                    &mut seen,
                    &n.pmid,
                    &n.sentence,
                    (char_slice(&chars, d), d),
                    (char_slice(&chars, e), e),
                    ExampleKind::NegSentenceDictionary,
                );
            }
        }
    }
    out
}

/// Card protocol (comparison only) for the sentences whose PMID is in `pmids` (all if `None`):
/// [`positives`], then for each positive one negative pairing its drug with the effect of a random positive
/// from another sentence of the same PMID set (seeded ChaCha8). Negatives are never annotated anywhere in the
/// corpus and unique as folded pairs; a positive gets no negative only if 64 draws fail.
pub fn card_protocol(
    corpus: &AdeCorpus,
    pmids: Option<&BTreeSet<String>>,
    seed: u64,
) -> Vec<RelationExample> {
    const TRIES: usize = 64;
    let annotated = corpus.annotated_pairs();
    let pos = positives(corpus, pmids);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen = HashSet::new();
    let mut negs = Vec::new();
    for p in &pos {
        for _ in 0..TRIES {
            let q = &pos[rng.random_range(0..pos.len())];
            if q.pmid == p.pmid && q.sentence == p.sentence {
                continue;
            }
            let key = (fold(&p.drug), fold(&q.effect));
            if annotated.contains(&key) || seen.contains(&key) {
                continue;
            }
            seen.insert(key);
            negs.push(RelationExample {
                label: false,
                kind: ExampleKind::Mismatched,
                effect: q.effect.clone(),
                effect_span: q.effect_span,
                effect_context: Some(SentenceRef {
                    pmid: q.pmid.clone(),
                    sentence: q.sentence.clone(),
                }),
                ..p.clone()
            });
            break;
        }
    }
    let mut out = pos;
    out.extend(negs);
    out
}

/// Counts over a list of examples.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExampleStats {
    /// All examples.
    pub examples: usize,
    /// Label true.
    pub positives: usize,
    /// Label false.
    pub negatives: usize,
    /// Distinct (PMID, sentence) contexts of the drugs.
    pub sentences: usize,
    /// Distinct PMIDs.
    pub pmids: usize,
    /// Examples per provenance.
    pub by_kind: BTreeMap<ExampleKind, usize>,
}

/// Count examples.
pub fn example_stats(examples: &[RelationExample]) -> ExampleStats {
    let mut st = ExampleStats {
        examples: examples.len(),
        ..Default::default()
    };
    let mut sents = HashSet::new();
    let mut pmids = HashSet::new();
    for x in examples {
        if x.label {
            st.positives += 1;
        } else {
            st.negatives += 1;
        }
        *st.by_kind.entry(x.kind).or_default() += 1;
        sents.insert((x.pmid.as_str(), x.sentence.as_str()));
        pmids.insert(x.pmid.as_str());
    }
    st.sentences = sents.len();
    st.pmids = pmids.len();
    st
}

/// Counts of one split under both protocols.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitSummary {
    /// The split.
    pub split: Split,
    /// PMIDs assigned to it.
    pub pmids: usize,
    /// Hard protocol.
    pub hard: ExampleStats,
    /// Card protocol.
    pub card: ExampleStats,
}

/// Corpus, split and protocol counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdeSummary {
    /// Split seed (the card protocol uses it too).
    pub seed: u64,
    /// Normalised split fractions.
    pub fractions: (f64, f64, f64),
    /// Located relations.
    pub relations: usize,
    /// Dropped duplicate relation lines.
    pub duplicate_relation_lines: usize,
    /// Mentions that could not be located.
    pub unlocated_mentions: usize,
    /// Rows located without a common sentence start.
    pub offset_mismatches: usize,
    /// (PMID, sentence) groups with relations.
    pub relation_sentences: usize,
    /// ADE-NEG lines.
    pub neg_lines: usize,
    /// Distinct ADE-NEG (PMID, sentence).
    pub neg_sentences: usize,
    /// PMIDs over both files.
    pub pmids: usize,
    /// Dictionary drug terms (train relations only).
    pub dictionary_drugs: usize,
    /// Dictionary effect terms (train relations only).
    pub dictionary_effects: usize,
    /// Per split.
    pub splits: Vec<SplitSummary>,
}

/// Split by PMID, build the dictionary from train relations only, and count both protocols per split.
pub fn summarize(corpus: &AdeCorpus, seed: u64, fractions: (f64, f64, f64)) -> Result<AdeSummary> {
    let pmids = corpus.pmids();
    let split = split_by_pmid(&pmids, seed, fractions)?;
    split.check_disjoint()?;
    let dict = MentionDictionary::from_corpus(corpus, Some(&split.train));
    let splits = Split::ALL
        .into_iter()
        .map(|s| {
            let p = Some(split.pmids(s));
            SplitSummary {
                split: s,
                pmids: split.pmids(s).len(),
                hard: example_stats(&hard_protocol(corpus, p, &dict)),
                card: example_stats(&card_protocol(corpus, p, seed)),
            }
        })
        .collect();
    Ok(AdeSummary {
        seed,
        fractions: split.fractions,
        relations: corpus.relation_count(),
        duplicate_relation_lines: corpus.report.duplicate_lines,
        unlocated_mentions: corpus.report.unlocated.len(),
        offset_mismatches: corpus.report.offset_mismatches,
        relation_sentences: corpus.sentences.len(),
        neg_lines: corpus.neg_lines,
        neg_sentences: corpus.neg_sentences.len(),
        pmids: pmids.len(),
        dictionary_drugs: dict.drug_count(),
        dictionary_effects: dict.effect_count(),
        splits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Char index of the `k`-th (0-based) occurrence of `m` in `s`.
    fn nth(s: &str, m: &str, k: usize) -> usize {
        let (b, _) = s.match_indices(m).nth(k).expect("fixture mention");
        s[..b].chars().count()
    }

    /// A DRUG-AE line whose document offsets put the sentence at char `start` of the abstract and point at
    /// the `ek`-th effect and `dk`-th drug occurrence.
    fn rel(pmid: &str, s: &str, e: &str, ek: usize, d: &str, dk: usize, start: usize) -> String {
        let (eb, db) = (start + nth(s, e, ek), start + nth(s, d, dk));
        let (el, dl) = (e.chars().count(), d.chars().count());
        format!("{pmid}|{s}|{e}|{eb}|{}|{d}|{db}|{}", eb + el, db + dl)
    }

    fn slice(s: &str, (b, e): Span) -> String {
        s.chars().skip(b).take(e - b).collect()
    }

    fn parse(lines: &[String]) -> DrugAeParse {
        parse_drug_ae_report(lines.join("\n").as_bytes()).unwrap()
    }

    #[test]
    fn data_ade_document_offsets_become_sentence_offsets() {
        // Two real lines: the offsets count from the start of `PMID\n\nTitle\n\nAbstract`.
        let text = "10030778|Intravenous azithromycin-induced ototoxicity.|ototoxicity|43|54|azithromycin|22|34\n\
            10048291|Unaccountable severe hypercalcemia in a patient treated for hypoparathyroidism with dihydrotachysterol.|hypercalcemia|31|44|dihydrotachysterol|94|112\n";
        let rels = parse_drug_ae(text.as_bytes()).unwrap();
        assert_eq!(rels.len(), 2);
        let r = &rels[0];
        assert_eq!((r.drug_doc_span, r.effect_doc_span), ((22, 34), (43, 54)));
        assert_eq!((r.drug_span, r.effect_span), ((12, 24), (33, 44)));
        assert_eq!(rels[1].effect_span, (21, 34));
        assert_eq!(rels[1].drug_span, (84, 102));
        for r in &rels {
            assert_eq!(slice(&r.sentence, r.drug_span), r.drug);
            assert_eq!(slice(&r.sentence, r.effect_span), r.effect);
            assert_eq!(r.line, if r.pmid == "10030778" { 1 } else { 2 });
        }
    }

    #[test]
    fn data_ade_repeated_mentions_follow_document_offsets() {
        let s = "We gave heparin before and heparin caused thrombocytopenia.";
        let p = parse(&[rel("1", s, "thrombocytopenia", 0, "heparin", 1, 100)]);
        assert_eq!(p.relations[0].drug_span, (27, 34));
        assert_eq!(p.offset_mismatches, 0);

        // Row 1 alone is ambiguous (both mentions repeat at the same distance); row 2 of the same sentence
        // fixes the sentence start, so row 1 must take the first occurrences.
        let s = "MTX caused rash; later MTX caused rash and fever.";
        let p = parse(&[
            rel("2", s, "rash", 0, "MTX", 0, 200),
            rel("2", s, "fever", 0, "MTX", 0, 200),
        ]);
        assert_eq!(p.relations[0].drug_span, (0, 3));
        assert_eq!(
            p.relations[0].effect_span,
            (nth(s, "rash", 0), nth(s, "rash", 0) + 4)
        );
        // The same rows pointing at the second occurrences resolve there.
        let p = parse(&[rel("2", s, "rash", 1, "MTX", 1, 200)]);
        assert_eq!(p.relations[0].drug_span.0, nth(s, "MTX", 1));
        assert_eq!(p.relations[0].effect_span.0, nth(s, "rash", 1));
    }

    #[test]
    fn data_ade_multibyte_sentences_use_char_offsets() {
        let s = "Naïve patients on β-blockers developed bradycardia (≥2 episodes).";
        let p = parse(&[rel("3", s, "bradycardia", 0, "β-blockers", 0, 57)]);
        let r = &p.relations[0];
        assert_eq!(r.drug_span, (18, 28));
        assert_eq!(r.drug_doc_span, (75, 85));
        assert_ne!(r.effect_span.0, s.find("bradycardia").unwrap());
        assert_eq!(slice(s, r.effect_span), "bradycardia");
        assert_eq!(slice(s, r.drug_span), "β-blockers");
    }

    #[test]
    fn data_ade_malformed_lines_name_the_line() {
        let ok = "1|A caused B.|B|12|13|A|10|11";
        let cases = [
            format!("{ok}\n1|A caused B.|B|12|13|A|10"),
            format!("{ok}\n\n1|A caused B.|B|x|13|A|10|11"),
            format!("{ok}\n1|A caused B.|B|13|12|A|10|11"),
            format!("{ok}\nP1|A caused B.|B|12|13|A|10|11"),
            format!("{ok}\n1|A caused B.||12|13|A|10|11"),
        ];
        for (i, text) in cases.iter().enumerate() {
            let err = parse_drug_ae(text.as_bytes()).unwrap_err().to_string();
            let line = if i == 1 { "line 3" } else { "line 2" };
            assert!(err.contains(line), "case {i}: {err}");
        }
        for text in [
            "1 NEG ok\n2 POS not ok",
            "1 NEG ok\nx NEG bad pmid",
            "1 NEG ok\n2NEG",
        ] {
            let err = parse_ade_neg(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains("line 2"), "{err}");
        }
    }

    #[test]
    fn data_ade_duplicate_and_unlocatable_rows() {
        let l = rel("4", "Aspirin caused nausea.", "nausea", 0, "Aspirin", 0, 10);
        let p = parse(&[l.clone(), l.clone(), l]);
        assert_eq!((p.relations.len(), p.duplicate_lines), (1, 2));

        // Mentions absent from the sentence: reported and dropped, not a panic.
        let p = parse(&["5|Some sentence here.|nausea|10|16|aspirin|0|7".into()]);
        assert!(p.relations.is_empty());
        assert_eq!(p.unlocated.len(), 2);
        assert_eq!(p.unlocated[0].line, 1);
        // Case differs from the sentence: found case-insensitively, counted as an offset mismatch.
        let p = parse(&["6|Aspirin caused Nausea.|nausea|25|31|aspirin|10|17".into()]);
        assert_eq!(p.offset_mismatches, 1);
        assert_eq!(p.relations[0].effect_span, (15, 21));
        assert_eq!(p.relations[0].drug_span, (0, 7));
    }

    #[test]
    fn data_ade_neg_format() {
        let text = "6460590 NEG Clioquinol intoxication.\r\n\n8600337 NEG \"Retinoic acid syndrome\" was prevented.\n";
        let n = parse_ade_neg(text.as_bytes()).unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].pmid, "6460590");
        assert_eq!(n[0].sentence, "Clioquinol intoxication.");
        assert_eq!(n[1].sentence, "\"Retinoic acid syndrome\" was prevented.");
    }

    #[test]
    fn data_ade_split_is_disjoint_and_deterministic() {
        let pmids: Vec<String> = (1..=2000).map(|i| (1_000_000 + i).to_string()).collect();
        let a = split_by_pmid(&pmids, 7, (0.8, 0.1, 0.1)).unwrap();
        let b = split_by_pmid(&pmids, 7, (8.0, 1.0, 1.0)).unwrap();
        assert_eq!(a, b);
        a.check_disjoint().unwrap();
        assert_eq!(a.train.len() + a.val.len() + a.test.len(), pmids.len());
        assert!((1450..1750).contains(&a.train.len()), "{}", a.train.len());
        assert!(a.val.len() > 120 && a.test.len() > 120);
        for p in &pmids {
            assert_eq!(a.split_of(p), Some(a.assign(p)));
        }
        // A PMID's split does not depend on which other PMIDs are split.
        let sub = split_by_pmid(&pmids[..100], 7, (0.8, 0.1, 0.1)).unwrap();
        assert!(sub.test.iter().all(|p| a.test.contains(p)));
        assert_ne!(
            split_by_pmid(&pmids, 8, (0.8, 0.1, 0.1)).unwrap().test,
            a.test
        );

        let mut bad = a.clone();
        let p = bad.train.iter().next().cloned().unwrap();
        bad.test.insert(p);
        assert!(bad.check_disjoint().is_err());
        for f in [(0.0, 0.0, 0.0), (-1.0, 1.0, 1.0), (f64::NAN, 1.0, 1.0)] {
            assert!(split_by_pmid(&pmids, 7, f).is_err());
        }
    }

    fn fixture() -> AdeCorpus {
        let s1 = "Aspirin and warfarin caused bleeding and rash.";
        let s3 = "Lithium toxicity presented as tremor.";
        let rels = [
            rel("11", s1, "bleeding", 0, "Aspirin", 0, 30),
            rel("11", s1, "rash", 0, "warfarin", 0, 30),
            rel(
                "12",
                "Heparin induced thrombocytopenia.",
                "thrombocytopenia",
                0,
                "Heparin",
                0,
                10,
            ),
            rel("13", s3, "tremor", 0, "Lithium", 0, 10),
            rel("13", s3, "Lithium toxicity", 0, "Lithium", 0, 10),
            rel("14", "Warfarin caused rash.", "rash", 0, "Warfarin", 0, 10),
            rel(
                "14",
                "Acute hepatitis after isoniazid.",
                "Acute hepatitis",
                0,
                "isoniazid",
                0,
                40,
            ),
        ];
        let negs = "15 NEG Patients on aspirin rarely report bleeding or heparinoid rash.\n\
            16 NEG WARFARIN with thrombocytopenia.\n\
            16 NEG WARFARIN with thrombocytopenia.\n\
            11 NEG Aspirin was stopped.\n";
        AdeCorpus::from_parts(parse(&rels), parse_ade_neg(negs.as_bytes()).unwrap())
    }

    fn assert_in_sentence(x: &RelationExample) {
        assert_eq!(slice(&x.sentence, x.drug_span), x.drug, "{x:?}");
        assert_eq!(slice(x.effect_sentence(), x.effect_span), x.effect, "{x:?}");
    }

    #[test]
    fn data_ade_hard_protocol_negatives() {
        let c = fixture();
        assert_eq!(
            (c.sentences.len(), c.neg_sentences.len(), c.neg_lines),
            (5, 3, 4)
        );
        let annotated = c.annotated_pairs();
        let dict = MentionDictionary::from_corpus(&c, None);
        let ex = hard_protocol(&c, None, &dict);
        let key = |x: &RelationExample| (fold(&x.drug), fold(&x.effect));
        let neg: BTreeSet<(String, String, ExampleKind)> = ex
            .iter()
            .filter(|x| !x.label)
            .map(|x| (fold(&x.drug), fold(&x.effect), x.kind))
            .collect();
        let expect: BTreeSet<(String, String, ExampleKind)> = [
            ("aspirin", "rash", ExampleKind::SentenceCombination),
            ("aspirin", "rash", ExampleKind::NegSentenceDictionary),
            (
                "warfarin",
                "thrombocytopenia",
                ExampleKind::NegSentenceDictionary,
            ),
        ]
        .into_iter()
        .map(|(d, e, k)| (d.to_string(), e.to_string(), k))
        .collect();
        // (warfarin, bleeding) and (aspirin, rash) are un-annotated combinations of sentence 11; in the NEG
        // sentence, (aspirin, bleeding) is annotated elsewhere and dropped; `heparinoid` is not `heparin`.
        assert!(neg.is_superset(&expect), "{neg:?}");
        assert!(neg.contains(&(
            "warfarin".into(),
            "bleeding".into(),
            ExampleKind::SentenceCombination
        )));
        assert_eq!(neg.len(), 4, "{neg:?}");
        for x in &ex {
            assert_in_sentence(x);
            assert!(x.effect_context.is_none());
            assert_eq!(x.label, annotated.contains(&key(x)));
            assert!(x.label || !overlaps(x.drug_span, x.effect_span));
        }
        assert_eq!(ex.iter().filter(|x| x.label).count(), 7);
        let w = ex.iter().find(|x| x.pmid == "16").unwrap();
        assert_eq!((w.drug.as_str(), w.drug_span), ("WARFARIN", (0, 8)));

        // Dictionary from one PMID only: WARFARIN is no longer a known drug string.
        let train: BTreeSet<String> = ["12".to_string()].into();
        let d12 = MentionDictionary::from_corpus(&c, Some(&train));
        assert_eq!((d12.drug_count(), d12.effect_count()), (1, 1));
        let ex = hard_protocol(&c, None, &d12);
        assert!(ex
            .iter()
            .all(|x| x.kind != ExampleKind::NegSentenceDictionary));
        // Restricting to PMIDs keeps only their sentences.
        let only15: BTreeSet<String> = ["15".to_string()].into();
        let ex = hard_protocol(&c, Some(&only15), &dict);
        assert!(ex.iter().all(|x| x.pmid == "15" && !x.label));
    }

    #[test]
    fn data_ade_card_protocol_is_balanced() {
        let c = fixture();
        let annotated = c.annotated_pairs();
        let ex = card_protocol(&c, None, 3);
        assert_eq!(ex, card_protocol(&c, None, 3));
        let st = example_stats(&ex);
        assert_eq!((st.positives, st.negatives), (7, 7));
        for x in ex.iter().filter(|x| !x.label) {
            assert_in_sentence(x);
            assert!(!annotated.contains(&(fold(&x.drug), fold(&x.effect))));
            let ctx = x.effect_context.as_ref().unwrap();
            assert!(ctx.sentence != x.sentence || ctx.pmid != x.pmid);
        }
        let json = serde_json::to_string(&st).unwrap();
        assert!(json.contains("\"Mismatched\":7"), "{json}");
    }

    /// Real data from `CRAG_SHARED_DATA` (default `<crate>/../../../shared/data`); fails if missing.
    #[test]
    fn data_ade_real_files() {
        let root = std::env::var("CRAG_SHARED_DATA")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
        let dir = root.join("ade_corpus_v2");
        assert!(
            dir.join(DRUG_AE_FILE).is_file() && dir.join(ADE_NEG_FILE).is_file(),
            "ADE Corpus V2 missing under {} (set CRAG_SHARED_DATA)",
            dir.display()
        );
        let c = read_ade_corpus(&dir).unwrap();
        let rels: Vec<&AdeRelation> = c.sentences.iter().flat_map(|s| &s.relations).collect();
        println!(
            "unlocated mentions: {}, offset mismatches: {}, length mismatches: {}",
            c.report.unlocated.len(),
            c.report.offset_mismatches,
            c.report.length_mismatches
        );
        // Counts stated in the corpus README.
        assert_eq!(rels.len() + c.report.duplicate_lines, 6821);
        assert_eq!(c.report.duplicate_lines, 0);
        assert!(c.report.unlocated.is_empty(), "{:?}", c.report.unlocated);
        let distinct = |f: &dyn Fn(&AdeRelation) -> String| {
            rels.iter().map(|r| f(r)).collect::<HashSet<_>>().len()
        };
        assert_eq!(distinct(&|r| r.sentence.clone()), 4271);
        assert_eq!(distinct(&|r| r.pmid.clone()), 1644);
        assert_eq!(distinct(&|r| format!("{}|{}", r.effect, r.drug)), 5730);
        assert_eq!(distinct(&|r| r.drug.to_lowercase()), 1050);
        assert_eq!(distinct(&|r| r.effect.to_lowercase()), 2984);
        assert_eq!(c.neg_lines, 16695);
        let negs: HashSet<&str> = c
            .neg_sentences
            .iter()
            .map(|n| n.sentence.as_str())
            .collect();
        assert_eq!(negs.len(), 16625);
        let neg_pmids: HashSet<&str> = c.neg_sentences.iter().map(|n| n.pmid.as_str()).collect();
        assert_eq!(neg_pmids.len(), 2922);
        assert_eq!(c.pmids().len(), 2972);
        for r in &rels {
            assert_eq!(
                slice(&r.sentence, r.effect_span),
                r.effect,
                "line {}",
                r.line
            );
            assert_eq!(slice(&r.sentence, r.drug_span), r.drug, "line {}", r.line);
        }

        let summary = summarize(&c, 42, (0.8, 0.1, 0.1)).unwrap();
        println!("{}", serde_json::to_string_pretty(&summary).unwrap());
        assert_eq!(summary.pmids, 2972);
        assert_eq!(summary.splits.iter().map(|s| s.pmids).sum::<usize>(), 2972);
        for s in &summary.splits {
            assert_eq!(s.card.positives, s.hard.positives);
            assert!(s.card.negatives * 100 >= s.card.positives * 99, "{s:?}");
            assert!(s.hard.negatives > 0);
        }
        let split = split_by_pmid(c.pmids(), 42, (0.8, 0.1, 0.1)).unwrap();
        split.check_disjoint().unwrap();
        let dict = MentionDictionary::from_corpus(&c, Some(&split.train));
        let annotated = c.annotated_pairs();
        let test = hard_protocol(&c, Some(&split.test), &dict);
        for x in &test {
            assert!(split.test.contains(&x.pmid));
            assert_eq!(
                x.label,
                annotated.contains(&(fold(&x.drug), fold(&x.effect)))
            );
            assert_in_sentence(x);
        }
    }
}
