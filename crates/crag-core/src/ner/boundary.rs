//! Learned boundary correction of mentions: the last refinement step ([`crate::ner::refine::Refine::boundaries`]).
//!
//! Most of the tagger's remaining errors on BC5CDR are boundaries: it marks "hepatic adenoma" where the corpus
//! annotates "adenoma", or "seizures" where it annotates "grand mal seizures". Whether a modifier belongs to a
//! mention is a convention of the corpus, visible in its annotations, so a small gradient-boosted tree ensemble
//! learns it from them: for a mention, every span that moves its first or last token by one or two tokens (and the
//! mention itself) is scored with P(the annotated span) from counts of the training corpus — how often the span's
//! text is annotated and occurs, how often its first (last) word begins (ends) an annotation, how often the words
//! around it stand before (after) one, the same by 3-char suffix for unseen words — and the mention moves to the
//! best variant when that variant beats the mention's own span by more than [`BoundaryModel::margin`].
//!
//! Training rows ([`training_rows`]) come from the annotated documents themselves: around each annotation, the
//! annotation and a seeded half of its variants play the tagger's mention, and every variant of that is a row,
//! labelled by whether it is annotated. The counts of a row's own document are left out of its features
//! (leave-one-document-out), so the rows see the counts as a new text would. The trees are fitted by
//! `crag-train extract-eval --boundaries` (forust); this module computes features and scores, nothing else, so
//! training and serving share one feature definition.
//!
//! Tokens are runs of letters, digits and `_`, or one other non-space char, lower-cased ([`tokens`]). Only Drug
//! and Disease mentions are moved (the types of the corpus the counts come from).

use std::collections::{BTreeMap, HashMap, HashSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::ner::schema::{Document, EntityType};
use crate::ner::tagging::Mention;
use crate::{CragError, Result};

/// Longest annotated form, in tokens, whose occurrences are counted.
pub const MAX_FORM_TOKENS: usize = 10;

/// Number of features of a candidate span ([`Features`]).
pub const FEATURES: usize = 28;

/// One candidate span's features, in the order the trees index them.
pub type Features = [f64; FEATURES];

/// Chars of a 3-char suffix class.
const SUFFIX: usize = 3;

/// A token of a text: `[start, end)` in chars, and its lower-cased text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// First char.
    pub start: usize,
    /// One past the last char.
    pub end: usize,
    /// Lower-cased text.
    pub lower: String,
}

/// A text's tokens: runs of alphanumeric chars and `_`, and every other non-space char on its own.
pub fn tokens(text: &str) -> Vec<Token> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if word(c) {
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
        }
        out.push(Token {
            start,
            end: i,
            lower: chars[start..i].iter().collect::<String>().to_lowercase(),
        });
    }
    out
}

/// The key of the tokens `[i, j]` as a form: their lower-cased texts joined by single spaces.
fn form_key(toks: &[Token], i: usize, j: usize) -> String {
    toks[i..=j]
        .iter()
        .map(|t| t.lower.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a word stands relative to the annotations of one type: how often it begins one, ends one, stands just
/// before one, just after one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
    /// First token of an annotation.
    pub begins: u32,
    /// Last token of an annotation.
    pub ends: u32,
    /// Token just before an annotation.
    pub before: u32,
    /// Token just after an annotation.
    pub after: u32,
}

impl Context {
    fn add(&mut self, o: &Context, sign: i64) {
        let f = |a: &mut u32, b: u32| *a = (*a as i64 + sign * b as i64).max(0) as u32;
        f(&mut self.begins, o.begins);
        f(&mut self.ends, o.ends);
        f(&mut self.before, o.before);
        f(&mut self.after, o.after);
    }
}

/// Counts of one lower-cased word in a corpus: its occurrences and, per entity type ([`EntityType::ALL`] order),
/// its [`Context`]. Serialised as `[seen, begins, ends, before, after of Disease, … of Lab_Test]` without
/// trailing zeros.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<u32>", into = "Vec<u32>")]
pub struct WordCounts {
    /// Occurrences as a token.
    pub seen: u32,
    /// Per type, in [`EntityType::ALL`] order.
    pub by_type: [Context; 5],
}

impl WordCounts {
    /// All types together.
    pub fn total(&self) -> Context {
        let mut c = Context::default();
        for t in &self.by_type {
            c.add(t, 1);
        }
        c
    }

    fn add(&mut self, o: &WordCounts, sign: i64) {
        self.seen = (self.seen as i64 + sign * o.seen as i64).max(0) as u32;
        for (a, b) in self.by_type.iter_mut().zip(&o.by_type) {
            a.add(b, sign);
        }
    }
}

impl From<WordCounts> for Vec<u32> {
    fn from(w: WordCounts) -> Vec<u32> {
        let mut v = vec![w.seen];
        for c in &w.by_type {
            v.extend([c.begins, c.ends, c.before, c.after]);
        }
        while v.len() > 1 && v.last() == Some(&0) {
            v.pop();
        }
        v
    }
}

impl TryFrom<Vec<u32>> for WordCounts {
    type Error = String;
    fn try_from(v: Vec<u32>) -> std::result::Result<Self, String> {
        if v.is_empty() || v.len() > 21 {
            return Err(format!("word counts: 1 to 21 numbers, not {}", v.len()));
        }
        let at = |k: usize| v.get(k).copied().unwrap_or(0);
        let mut w = WordCounts {
            seen: at(0),
            ..Default::default()
        };
        for (t, c) in w.by_type.iter_mut().enumerate() {
            let b = 1 + 4 * t;
            *c = Context {
                begins: at(b),
                ends: at(b + 1),
                before: at(b + 2),
                after: at(b + 3),
            };
        }
        Ok(w)
    }
}

/// Counts of one annotated form: how often it is annotated (per type, [`EntityType::ALL`] order) and how often it
/// occurs as a token sequence. Serialised as `[occurrences, annotated as Disease, …, as Lab_Test]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<u32>", into = "Vec<u32>")]
pub struct FormCounts {
    /// Occurrences in the texts (as tokens).
    pub occurrences: u32,
    /// Annotations of exactly this form, per type.
    pub annotated: [u32; 5],
}

impl FormCounts {
    fn annotated_total(&self) -> u32 {
        self.annotated.iter().sum()
    }

    fn add(&mut self, o: &FormCounts, sign: i64) {
        let f = |a: u32, b: u32| (a as i64 + sign * b as i64).max(0) as u32;
        self.occurrences = f(self.occurrences, o.occurrences);
        for (a, b) in self.annotated.iter_mut().zip(&o.annotated) {
            *a = f(*a, *b);
        }
    }
}

impl From<FormCounts> for Vec<u32> {
    fn from(f: FormCounts) -> Vec<u32> {
        let mut v = vec![f.occurrences];
        v.extend(f.annotated);
        v
    }
}

impl TryFrom<Vec<u32>> for FormCounts {
    type Error = String;
    fn try_from(v: Vec<u32>) -> std::result::Result<Self, String> {
        if v.len() != 6 {
            return Err(format!("form counts: 6 numbers, not {}", v.len()));
        }
        Ok(FormCounts {
            occurrences: v[0],
            annotated: [v[1], v[2], v[3], v[4], v[5]],
        })
    }
}

/// The corpus counts the features read: every word of the texts, every annotated form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorpusCounts {
    /// Lower-cased words.
    pub words: BTreeMap<String, WordCounts>,
    /// Annotated forms ([`tokens`] joined by single spaces, lower case).
    pub forms: BTreeMap<String, FormCounts>,
}

fn type_index(t: EntityType) -> usize {
    EntityType::ALL.iter().position(|&x| x == t).unwrap_or(0)
}

/// Token spans `(first, last)` of a document's entities whose offsets fall on token edges, with their types.
fn entity_spans(toks: &[Token], doc: &Document) -> Vec<(usize, usize, EntityType)> {
    let starts: HashMap<usize, usize> =
        toks.iter().enumerate().map(|(k, t)| (t.start, k)).collect();
    let ends: HashMap<usize, usize> = toks.iter().enumerate().map(|(k, t)| (t.end, k)).collect();
    let mut out: Vec<(usize, usize, EntityType)> = doc
        .entities
        .iter()
        .filter_map(|e| match (starts.get(&e.start), ends.get(&e.end)) {
            (Some(&i), Some(&j)) if i <= j => Some((i, j, e.entity_type)),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

impl CorpusCounts {
    /// The counts of each document (in order); [`CorpusCounts::sum`] of them is the corpus's. Occurrences are
    /// counted for the forms annotated anywhere in `docs`.
    pub fn per_document(docs: &[Document]) -> Vec<CorpusCounts> {
        let toks: Vec<Vec<Token>> = docs.iter().map(|d| tokens(&d.text)).collect();
        let mut per: Vec<CorpusCounts> = Vec::with_capacity(docs.len());
        for (d, tk) in docs.iter().zip(&toks) {
            let mut c = CorpusCounts::default();
            for t in tk {
                c.words.entry(t.lower.clone()).or_default().seen += 1;
            }
            for (i, j, ty) in entity_spans(tk, d) {
                let k = type_index(ty);
                let mut bump = |w: &str, f: &dyn Fn(&mut Context)| {
                    f(&mut c.words.entry(w.to_string()).or_default().by_type[k])
                };
                bump(&tk[i].lower, &|x| x.begins += 1);
                bump(&tk[j].lower, &|x| x.ends += 1);
                if i > 0 {
                    bump(&tk[i - 1].lower, &|x| x.before += 1);
                }
                if j + 1 < tk.len() {
                    bump(&tk[j + 1].lower, &|x| x.after += 1);
                }
                c.forms.entry(form_key(tk, i, j)).or_default().annotated[k] += 1;
            }
            per.push(c);
        }
        let annotated: HashSet<String> = per.iter().flat_map(|c| c.forms.keys().cloned()).collect();
        for (c, tk) in per.iter_mut().zip(&toks) {
            for i in 0..tk.len() {
                let mut key = String::new();
                for (n, t) in tk[i..].iter().take(MAX_FORM_TOKENS).enumerate() {
                    if n > 0 {
                        key.push(' ');
                    }
                    key.push_str(&t.lower);
                    if annotated.contains(&key) {
                        c.forms.entry(key.clone()).or_default().occurrences += 1;
                    }
                }
            }
        }
        per
    }

    /// The sum of `parts`.
    pub fn sum(parts: &[CorpusCounts]) -> CorpusCounts {
        let mut all = CorpusCounts::default();
        for p in parts {
            all.add(p, 1);
        }
        all
    }

    fn add(&mut self, o: &CorpusCounts, sign: i64) {
        for (w, c) in &o.words {
            self.words.entry(w.clone()).or_default().add(c, sign);
        }
        for (f, c) in &o.forms {
            self.forms.entry(f.clone()).or_default().add(c, sign);
        }
    }
}

/// Counts with the 3-char suffix classes derived from the words, ready for [`features`].
#[derive(Debug, Clone, Default)]
pub struct CountsIndex {
    words: HashMap<String, WordCounts>,
    suffixes: HashMap<String, WordCounts>,
    forms: HashMap<String, FormCounts>,
}

fn suffix(w: &str) -> String {
    let n = w.chars().count();
    w.chars().skip(n.saturating_sub(SUFFIX)).collect()
}

impl CountsIndex {
    /// Index `counts`.
    pub fn new(counts: &CorpusCounts) -> Self {
        let mut suffixes: HashMap<String, WordCounts> = HashMap::new();
        for (w, c) in &counts.words {
            suffixes.entry(suffix(w)).or_default().add(c, 1);
        }
        CountsIndex {
            words: counts.words.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            suffixes,
            forms: counts.forms.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        }
    }

    /// `self` without `part` (leave-one-document-out).
    pub fn without(&self, part: &CountsIndex) -> CountsIndex {
        let mut out = self.clone();
        for (k, v) in &part.words {
            out.words.entry(k.clone()).or_default().add(v, -1);
        }
        for (k, v) in &part.suffixes {
            out.suffixes.entry(k.clone()).or_default().add(v, -1);
        }
        for (k, v) in &part.forms {
            out.forms.entry(k.clone()).or_default().add(v, -1);
        }
        out
    }

    fn word(&self, w: Option<&Token>) -> WordCounts {
        w.and_then(|t| self.words.get(&t.lower))
            .copied()
            .unwrap_or_default()
    }

    fn suffix(&self, w: Option<&Token>) -> WordCounts {
        w.and_then(|t| self.suffixes.get(&suffix(&t.lower)))
            .copied()
            .unwrap_or_default()
    }
}

/// Features of the candidate span of tokens `[i, j]` typed `ty`, for the mention `[ci, cj]`.
pub fn features(
    idx: &CountsIndex,
    toks: &[Token],
    (i, j): (usize, usize),
    ty: EntityType,
    (ci, cj): (usize, usize),
) -> Features {
    let key = form_key(toks, i, j);
    let form = idx.forms.get(&key).copied().unwrap_or_default();
    let ann = form.annotated_total() as f64;
    // Occurrences are only known for annotated forms: a new text's unannotated span has none either.
    let occ = if ann > 0.0 {
        form.occurrences as f64
    } else {
        0.0
    };
    let ann_t = form.annotated[type_index(ty)] as f64;
    let (first, last) = (&toks[i], &toks[j]);
    let prev = i.checked_sub(1).map(|k| &toks[k]);
    let next = toks.get(j + 1);
    let k = type_index(ty);
    let rate =
        |w: &WordCounts, f: fn(&Context) -> u32| f(&w.total()) as f64 / (w.seen as f64 + 1.0);
    let typed =
        |w: &WordCounts, f: fn(&Context) -> u32| f(&w.by_type[k]) as f64 / (w.seen as f64 + 1.0);
    let (wf, wl, wp, wn) = (
        idx.word(Some(first)),
        idx.word(Some(last)),
        idx.word(prev),
        idx.word(next),
    );
    let (sf, sl, sp, sn) = (
        idx.suffix(Some(first)),
        idx.suffix(Some(last)),
        idx.suffix(prev),
        idx.suffix(next),
    );
    let not_word = |t: &Token| !t.lower.chars().all(char::is_alphanumeric);
    let span = &toks[i..=j];
    let coordination = span
        .iter()
        .any(|t| matches!(t.lower.as_str(), "and" | "or" | ","));
    let open = span.iter().filter(|t| t.lower == "(").count();
    let close = span.iter().filter(|t| t.lower == ")").count();
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    [
        ann.ln_1p(),
        occ.ln_1p(),
        ann / (occ + 1.0),
        ann_t / (ann + 0.5),
        flag(ty == EntityType::Drug),
        (j - i + 1) as f64,
        rate(&wf, |c| c.begins),
        rate(&wl, |c| c.ends),
        rate(&wp, |c| c.before),
        rate(&wn, |c| c.after),
        (wf.seen as f64).ln_1p(),
        (wl.seen as f64).ln_1p(),
        flag(not_word(first)),
        flag(not_word(last)),
        i as f64 - ci as f64,
        j as f64 - cj as f64,
        rate(&wp, |c| c.begins),
        rate(&wn, |c| c.ends),
        rate(&sf, |c| c.begins),
        rate(&sl, |c| c.ends),
        rate(&sp, |c| c.before),
        rate(&sn, |c| c.after),
        typed(&wf, |c| c.begins),
        typed(&wl, |c| c.ends),
        typed(&wp, |c| c.before),
        typed(&wn, |c| c.after),
        flag(coordination),
        flag(open != close),
    ]
}

/// [`BoundaryModel::keep`] forms of `terms` (e.g. a terminology's names): those of at least two tokens, sorted.
pub fn keep_forms<'a>(terms: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = terms
        .into_iter()
        .filter_map(|t| {
            let toks = tokens(t);
            (toks.len() >= 2).then(|| form_key(&toks, 0, toks.len() - 1))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The spans a mention `[i, j]` may move to among `n` tokens: itself first, then its first or last token moved
/// by one or two (never empty).
pub fn variants((i, j): (usize, usize), n: usize) -> Vec<(usize, usize)> {
    let mut out = vec![(i, j)];
    let mut push = |v: (usize, usize)| {
        if !out.contains(&v) {
            out.push(v);
        }
    };
    if j > i {
        push((i + 1, j));
        push((i, j - 1));
    }
    if i > 0 {
        push((i - 1, j));
    }
    if j + 1 < n {
        push((i, j + 1));
    }
    if j > i + 1 {
        push((i + 2, j));
        push((i, j - 2));
    }
    if i > 1 {
        push((i - 2, j));
    }
    if j + 2 < n {
        push((i, j + 2));
    }
    out
}

/// Boundary-model training rows from annotated documents: features and labels (1: the annotated span).
/// Deterministic for a `seed`. Entities whose offsets are not token edges are left out.
pub fn training_rows(docs: &[Document], seed: u64) -> (Vec<Features>, Vec<f64>) {
    let per = CorpusCounts::per_document(docs);
    let all = CountsIndex::new(&CorpusCounts::sum(&per));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (d, own) in docs.iter().zip(&per) {
        let idx = all.without(&CountsIndex::new(own));
        let toks = tokens(&d.text);
        let gold = entity_spans(&toks, d);
        let is_gold: HashSet<(usize, usize, EntityType)> = gold.iter().copied().collect();
        for &(gi, gj, ty) in &gold {
            for (n, center) in variants((gi, gj), toks.len()).into_iter().enumerate() {
                // The annotation itself always, each other variant half of the time, plays the mention.
                if n > 0 && rng.random::<f64>() >= 0.5 {
                    continue;
                }
                for v in variants(center, toks.len()) {
                    x.push(features(&idx, &toks, v, ty, center));
                    y.push(if is_gold.contains(&(v.0, v.1, ty)) {
                        1.0
                    } else {
                        0.0
                    });
                }
            }
        }
    }
    (x, y)
}

/// A node of a regression tree: a split (`x[feature] < threshold` goes left) or a leaf value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Node {
    /// `[feature, threshold, left child, right child]`.
    Split(u16, f64, u32, u32),
    /// Leaf value (log-odds).
    Leaf(f64),
}

/// A regression tree; node 0 is the root and children come after their parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree(pub Vec<Node>);

impl Tree {
    fn predict(&self, x: &Features) -> f64 {
        let mut k = 0;
        loop {
            match self.0[k] {
                Node::Leaf(v) => return v,
                Node::Split(f, t, l, r) => k = if x[f as usize] < t { l } else { r } as usize,
            }
        }
    }

    fn validate(&self) -> Result<()> {
        if self.0.is_empty() {
            return Err(CragError::CorruptModel("boundary model: empty tree".into()));
        }
        for (k, n) in self.0.iter().enumerate() {
            if let Node::Split(f, t, l, r) = *n {
                let ok_child = |c: u32| (c as usize) > k && (c as usize) < self.0.len();
                if f as usize >= FEATURES || !t.is_finite() || !ok_child(l) || !ok_child(r) {
                    return Err(CragError::CorruptModel(format!(
                        "boundary model: node {k} is not a valid split (feature {f}, children {l}, {r})"
                    )));
                }
            } else if let Node::Leaf(v) = *n {
                if !v.is_finite() {
                    return Err(CragError::CorruptModel(format!(
                        "boundary model: leaf {k} is not finite"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A trained boundary model: corpus counts, a tree ensemble over [`features`] and the margin a variant must win by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundaryModel {
    /// Log-odds before the trees.
    pub base_score: f64,
    /// A mention moves to its best variant when that variant's probability exceeds its own by more than this.
    pub margin: f64,
    /// Counts of the training corpus the features read.
    pub counts: CorpusCounts,
    /// The ensemble; the log-odds are `base_score` plus the sum of the trees.
    pub trees: Vec<Tree>,
    /// Forms (lower-cased tokens joined by single spaces, [`keep_forms`]) of standard terms a mention keeps as it is:
    /// a mention whose whole text is one is never moved ("deep vein thrombosis" stays, though the training corpus
    /// only annotates "thrombosis").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<String>,
}

impl BoundaryModel {
    /// Check the trees (features in range, children after parents, finite values) and the margin.
    pub fn validate(&self) -> Result<()> {
        if !(self.margin.is_finite() && self.base_score.is_finite()) {
            return Err(CragError::CorruptModel(
                "boundary model: margin and base_score must be finite".into(),
            ));
        }
        self.trees.iter().try_for_each(Tree::validate)
    }

    /// Log-odds of the annotated span for `x`: `base_score` plus the trees.
    pub fn log_odds(&self, x: &Features) -> f64 {
        self.base_score + self.trees.iter().map(|t| t.predict(x)).sum::<f64>()
    }

    /// P(annotated span) of `x`.
    pub fn probability(&self, x: &Features) -> f64 {
        1.0 / (1.0 + (-self.log_odds(x)).exp())
    }
}

/// A [`BoundaryModel`] ready to apply: its counts indexed.
#[derive(Debug, Clone)]
pub struct Boundaries {
    /// The model without its counts (they live in `index`).
    model: BoundaryModel,
    index: CountsIndex,
    keep: HashSet<String>,
}

impl Boundaries {
    /// Validate and index `model`.
    pub fn new(model: &BoundaryModel) -> Result<Self> {
        model.validate()?;
        Ok(Boundaries {
            index: CountsIndex::new(&model.counts),
            keep: model.keep.iter().cloned().collect(),
            model: BoundaryModel {
                base_score: model.base_score,
                margin: model.margin,
                counts: CorpusCounts::default(),
                trees: model.trees.clone(),
                keep: Vec::new(),
            },
        })
    }

    /// Move the Drug and Disease mentions of `text` whose best variant wins by more than the margin (never onto a
    /// span that overlaps another mention); `text` of a moved mention is re-read, its score kept. Sorted by start.
    pub fn apply(&self, text: &str, mut ms: Vec<Mention>) -> Vec<Mention> {
        let toks = tokens(text);
        let starts: HashMap<usize, usize> =
            toks.iter().enumerate().map(|(k, t)| (t.start, k)).collect();
        let ends: HashMap<usize, usize> =
            toks.iter().enumerate().map(|(k, t)| (t.end, k)).collect();
        let spans = |m: &Mention| Some((*starts.get(&m.start)?, *ends.get(&m.end)?));
        let chars: Vec<char> = text.chars().collect();
        for m in 0..ms.len() {
            let ty = ms[m].entity_type;
            if !matches!(ty, EntityType::Drug | EntityType::Disease) {
                continue;
            }
            let Some((ci, cj)) = spans(&ms[m]) else {
                continue;
            };
            if !self.keep.is_empty() && self.keep.contains(&form_key(&toks, ci, cj)) {
                continue;
            }
            let vs = variants((ci, cj), toks.len());
            let p: Vec<f64> = vs
                .iter()
                .map(|&v| {
                    self.model
                        .probability(&features(&self.index, &toks, v, ty, (ci, cj)))
                })
                .collect();
            let best = (1..vs.len()).fold(0, |b, k| if p[k] > p[b] { k } else { b });
            if best == 0 || p[best] - p[0] <= self.model.margin {
                continue;
            }
            let (s, e) = (toks[vs[best].0].start, toks[vs[best].1].end);
            // An edge that stood at a word's edge stays at one: "TMP-SMX" never becomes "TMP", "S-ketamine" never
            // "ketamine" (a name is not cut at a hyphen or comma inside it).
            let (start_edge, end_edge) = (
                |k: usize| {
                    k == 0 || chars[k - 1].is_whitespace() || "([{\"'".contains(chars[k - 1])
                },
                |k: usize| {
                    k == chars.len()
                        || chars[k].is_whitespace()
                        || ".,;:!?)]}\"'".contains(chars[k])
                },
            );
            if (start_edge(ms[m].start) && !start_edge(s)) || (end_edge(ms[m].end) && !end_edge(e))
            {
                continue;
            }
            let clash = ms
                .iter()
                .enumerate()
                .any(|(o, x)| o != m && x.start < e && s < x.end);
            if clash {
                continue;
            }
            let mention = &mut ms[m];
            mention.start = s;
            mention.end = e;
            mention.text = chars[s..e].iter().collect();
        }
        ms.sort_by_key(|m| (m.start, m.end));
        ms.dedup_by(|a, b| a.start == b.start && a.end == b.end && a.entity_type == b.entity_type);
        ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ner::schema::Entity;

    fn doc(text: &str, spans: &[(&str, EntityType)]) -> Document {
        let entities = spans
            .iter()
            .map(|&(m, t)| {
                let b = text.find(m).expect("mention in text");
                let start = text[..b].chars().count();
                Entity {
                    id: String::new(),
                    text: m.to_string(),
                    entity_type: t,
                    start,
                    end: start + m.chars().count(),
                }
            })
            .collect();
        Document {
            id: String::new(),
            text: text.to_string(),
            entities,
            relations: vec![],
        }
    }

    #[test]
    fn tokens_split_words_and_punctuation_with_char_offsets() {
        let t = tokens("Naïve 5-HT, (x_y)");
        let got: Vec<(usize, usize, &str)> = t
            .iter()
            .map(|t| (t.start, t.end, t.lower.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 5, "naïve"),
                (6, 7, "5"),
                (7, 8, "-"),
                (8, 10, "ht"),
                (10, 11, ","),
                (12, 13, "("),
                (13, 16, "x_y"),
                (16, 17, ")")
            ]
        );
        assert!(tokens("  \n").is_empty());
    }

    #[test]
    fn variants_move_each_edge_by_one_or_two_tokens_within_the_text() {
        assert_eq!(variants((0, 0), 1), vec![(0, 0)]);
        let v = variants((2, 4), 10);
        assert_eq!(v[0], (2, 4));
        for w in [
            (3, 4),
            (2, 3),
            (1, 4),
            (2, 5),
            (4, 4),
            (2, 2),
            (0, 4),
            (2, 6),
        ] {
            assert!(v.contains(&w), "{w:?} missing from {v:?}");
        }
        assert_eq!(v.len(), 9);
        assert!(variants((0, 1), 2).iter().all(|&(i, j)| i <= j && j < 2));
    }

    #[test]
    fn counts_record_forms_contexts_and_occurrences() {
        let d = doc(
            "Hepatic adenoma and adenoma after oral contraceptives.",
            &[("adenoma", EntityType::Disease)],
        );
        // The first "adenoma" is the annotated one (find gives the first occurrence).
        let all = CorpusCounts::sum(&CorpusCounts::per_document(&[d]));
        let f = all.forms["adenoma"];
        assert_eq!(f.occurrences, 2);
        assert_eq!(f.annotated, [1, 0, 0, 0, 0]);
        assert_eq!(all.words["hepatic"].by_type[0].before, 1);
        assert_eq!(all.words["and"].by_type[0].after, 1);
        assert_eq!(all.words["adenoma"].seen, 2);
        assert_eq!(all.words["adenoma"].total().begins, 1);
        // Serialised compactly and read back.
        let json = serde_json::to_string(&all).expect("serialise");
        assert!(json.contains("\"oral\":[1]"), "{json}");
        let back: CorpusCounts = serde_json::from_str(&json).expect("read back");
        assert_eq!(back, all);
        assert!(serde_json::from_str::<FormCounts>("[1,2]").is_err());
    }

    #[test]
    fn leaving_a_document_out_removes_exactly_its_counts() {
        let a = doc(
            "Aspirin caused asthma.",
            &[
                ("Aspirin", EntityType::Drug),
                ("asthma", EntityType::Disease),
            ],
        );
        let b = doc("Asthma after aspirin.", &[("Asthma", EntityType::Disease)]);
        let per = CorpusCounts::per_document(&[a, b.clone()]);
        let all = CountsIndex::new(&CorpusCounts::sum(&per));
        let without_a = all.without(&CountsIndex::new(&per[0]));
        let only_b = CountsIndex::new(&CorpusCounts::per_document(&[b])[0]);
        for w in ["aspirin", "asthma", "caused", "after", "."] {
            assert_eq!(
                without_a.words.get(w).copied().unwrap_or_default(),
                only_b.words.get(w).copied().unwrap_or_default(),
                "{w}"
            );
        }
        assert_eq!(without_a.forms["aspirin"].annotated_total(), 0);
        assert_eq!(without_a.forms["asthma"].annotated_total(), 1);
    }

    #[test]
    fn training_rows_are_seeded_and_label_the_annotated_span() {
        let docs = vec![
            doc(
                "Hepatic adenoma was seen.",
                &[("adenoma", EntityType::Disease)],
            ),
            doc(
                "Two hepatic adenomas in women.",
                &[("adenomas", EntityType::Disease)],
            ),
        ];
        let (x, y) = training_rows(&docs, 7);
        assert_eq!(x.len(), y.len());
        assert!(y.contains(&1.0) && y.contains(&0.0));
        assert_eq!(training_rows(&docs, 7), (x.clone(), y.clone()));
        // A row of the annotation itself has offsets 0 and the annotation's type.
        assert!(x
            .iter()
            .zip(&y)
            .any(|(f, &l)| l == 1.0 && f[14] == 0.0 && f[15] == 0.0 && f[4] == 0.0));
        assert!(x.iter().flatten().all(|v| v.is_finite()));
    }

    /// A one-split model: log-odds +4 for spans whose first word begins annotations of the counts (feature 6 > 0),
    /// -4 otherwise.
    fn stump(counts: CorpusCounts, margin: f64) -> BoundaryModel {
        BoundaryModel {
            base_score: 0.0,
            margin,
            counts,
            trees: vec![Tree(vec![
                Node::Split(6, 1e-9, 1, 2),
                Node::Leaf(-4.0),
                Node::Leaf(4.0),
            ])],
            keep: vec![],
        }
    }

    #[test]
    fn a_variant_that_wins_by_the_margin_replaces_the_mention() {
        let train = doc("An adenoma.", &[("adenoma", EntityType::Disease)]);
        let counts = CorpusCounts::sum(&CorpusCounts::per_document(&[train]));
        let text = "Hepatic adenoma in a woman.";
        let m = Mention {
            start: 0,
            end: 15,
            text: "Hepatic adenoma".into(),
            entity_type: EntityType::Disease,
            score: 0.95,
        };
        let b = Boundaries::new(&stump(counts.clone(), 0.5)).expect("valid");
        let out = b.apply(text, vec![m.clone()]);
        assert_eq!(
            (out[0].start, out[0].end, out[0].text.as_str()),
            (8, 15, "adenoma")
        );
        assert_eq!(out[0].score, 0.95);
        // A margin nothing can beat leaves it; other types are never moved.
        let keep = Boundaries::new(&stump(counts.clone(), 1.0)).expect("valid");
        assert_eq!(keep.apply(text, vec![m.clone()]), vec![m.clone()]);
        let drug_free = Mention {
            entity_type: EntityType::Symptom,
            ..m.clone()
        };
        assert_eq!(b.apply(text, vec![drug_free.clone()]), vec![drug_free]);
        // Never onto another mention.
        let other = Mention {
            start: 8,
            end: 15,
            text: "adenoma".into(),
            entity_type: EntityType::Drug,
            score: 0.9,
        };
        let out = b.apply(text, vec![m.clone(), other.clone()]);
        assert_eq!(out, vec![m, other]);
    }

    #[test]
    fn kept_terms_and_word_inner_edges_are_never_moved() {
        assert_eq!(
            keep_forms([
                "Deep vein thrombosis",
                "Aspirin",
                "TMP-SMX",
                "deep vein  thrombosis"
            ]),
            vec!["deep vein thrombosis".to_string(), "tmp - smx".to_string()]
        );
        // Spans whose first word begins a training annotation win: "thrombosis" and "TMP" would.
        let train = doc(
            "A thrombosis with TMP given.",
            &[
                ("thrombosis", EntityType::Disease),
                ("TMP", EntityType::Drug),
            ],
        );
        let counts = CorpusCounts::sum(&CorpusCounts::per_document(&[train]));
        let text = "Deep vein thrombosis after TMP-SMX.";
        let dvt = Mention {
            start: 0,
            end: 20,
            text: "Deep vein thrombosis".into(),
            entity_type: EntityType::Disease,
            score: 0.9,
        };
        let free = Boundaries::new(&stump(counts.clone(), 0.5)).expect("valid");
        assert_eq!(free.apply(text, vec![dvt.clone()])[0].text, "thrombosis");
        let kept = Boundaries::new(&BoundaryModel {
            keep: keep_forms(["Deep vein thrombosis"]),
            ..stump(counts.clone(), 0.5)
        })
        .expect("valid");
        assert_eq!(kept.apply(text, vec![dvt.clone()]), vec![dvt]);
        // "TMP-SMX" ends at a word's edge; "TMP" would end inside the word, so it stays.
        let cotrim = Mention {
            start: 27,
            end: 34,
            text: "TMP-SMX".into(),
            entity_type: EntityType::Drug,
            score: 0.9,
        };
        // Log-odds +4 for spans whose last word ends a training annotation ("TMP"), -4 otherwise ("SMX").
        let by_end = BoundaryModel {
            trees: vec![Tree(vec![
                Node::Split(7, 1e-9, 1, 2),
                Node::Leaf(-4.0),
                Node::Leaf(4.0),
            ])],
            ..stump(counts, 0.5)
        };
        let cut = Boundaries::new(&by_end).expect("valid");
        let spaced = "Deep vein thrombosis after TMP SMX.";
        assert_eq!(
            cut.apply(
                spaced,
                vec![Mention {
                    text: "TMP SMX".into(),
                    ..cotrim.clone()
                }]
            )[0]
            .text,
            "TMP"
        );
        assert_eq!(cut.apply(text, vec![cotrim.clone()]), vec![cotrim]);
    }

    #[test]
    fn malformed_trees_are_rejected() {
        let bad = [
            Tree(vec![]),
            Tree(vec![
                Node::Split(FEATURES as u16, 0.5, 1, 2),
                Node::Leaf(0.0),
                Node::Leaf(0.0),
            ]),
            Tree(vec![Node::Split(0, 0.5, 0, 1), Node::Leaf(0.0)]),
            Tree(vec![Node::Split(0, 0.5, 1, 5), Node::Leaf(0.0)]),
            Tree(vec![Node::Leaf(f64::NAN)]),
        ];
        for t in bad {
            let m = BoundaryModel {
                base_score: 0.0,
                margin: 0.5,
                counts: CorpusCounts::default(),
                trees: vec![t.clone()],
                keep: vec![],
            };
            assert!(Boundaries::new(&m).is_err(), "{t:?}");
        }
        let json = serde_json::to_string(&Tree(vec![
            Node::Split(3, 0.25, 1, 2),
            Node::Leaf(-1.0),
            Node::Leaf(2.0),
        ]))
        .expect("json");
        assert_eq!(json, "[[3,0.25,1,2],-1.0,2.0]");
        let back: Tree = serde_json::from_str(&json).expect("read");
        assert_eq!(back.predict(&[0.0; FEATURES]), -1.0);
    }
}
