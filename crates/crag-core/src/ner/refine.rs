//! Document-level refinement of decoded mentions: what one window's labels cannot see. The steps, in the order
//! they run:
//!
//! * **Confidence** ([`Refine::min_score`]): mentions whose score (mean label probability) is below it are dropped
//!   first, so they neither count nor define abbreviations.
//! * **Edges** ([`Refine::tidy_edges`]): same-type mentions that touch (no char between them: "5," +
//!   "7-dihydroxytryptamine") are one mention, and a mention never starts with a closing bracket or separator nor ends
//!   with an opening one ("SKF-82958 (" → "SKF-82958"). The word-level decoder labels punctuation as words of their
//!   own, so a label change at a comma or bracket inside a chemical name splits it or leaves a stray edge.
//! * **Exclusions** ([`Refine::exclusions`], built by [`build_exclusions`] from a training corpus): mentions whose
//!   whole text is a form the training annotations seldom mark on its own — a fragment of entity names ("venous",
//!   "degeneration") or a word that is rarely one ("signs") — are dropped. They run before the abbreviation step, so
//!   a short form that a document defines is kept whatever it means elsewhere.
//! * **Abbreviations** ([`abbreviations`], Schwartz & Hearst 2003): a definition `long form (SF)` links a short form
//!   to the words before the parenthesis. When a mention ends where the long form ends (wherever it starts: the
//!   letters of "COCs" give "contraceptives", the tagger "oral contraceptives"), every
//!   whole-word occurrence of the short form in the text becomes a mention of that type (replacing mentions that
//!   overlap it): biomedical abstracts define an abbreviation once and use it many times, often far outside the
//!   window that saw the definition; a short form of capitals with or without a plural `s` is found in both numbers
//!   ("COCs", "COC"). When no mention touches the long form at all ("spontaneously hypertensive rats
//!   (SHR)"), mentions that are exactly the short form are dropped: the definition says what the letters stand for,
//!   and it is not an entity.
//! * **Adjacent fragments** ([`Refine::merge_adjacent`]): two mentions of one type separated by a single space
//!   ("iron" "dextran") are one mention; the word-level decoder splits them when a continuation word is labelled `B`.
//! * **Lexicon** ([`Refine::lexicon`], built by [`build_lexicon`] from a training corpus): whole-word,
//!   ASCII-case-insensitive occurrences of forms the training annotations nearly always mark are added where no
//!   mention overlaps them; their score is the form's training precision. A [`Terminology`] (SIDER's drug names and
//!   side-effect terms) vouches for forms the corpus has seen only once or twice, and may add names it never saw,
//!   scored by their type's prior ([`build_lexicon_with_terms`]).
//! * **Boundaries** ([`Refine::boundaries`], [`crate::ner::boundary`]): a tree ensemble trained on a corpus's
//!   annotations moves a Drug or Disease mention's first or last token by one or two ("hepatic adenoma" →
//!   "adenoma") when the corpus's conventions clearly prefer the other span.
//!
//! They run after [`crate::ner::tagging::decode`] on the whole text, switched by [`Refine`] in the model config;
//! [`Refiner`] applies one setting to many texts.

use std::collections::{BTreeMap, HashMap, HashSet};

use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};

use crate::ner::boundary::{Boundaries, BoundaryModel};
use crate::ner::schema::{CharIndex, Document, EntityType};
use crate::ner::tagging::Mention;
use crate::{CragError, Result};

/// Which refinements a model applies after decoding (part of its config; all off in configs that predate it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Refine {
    /// Propagate types through abbreviation definitions, drop short forms of non-entities.
    #[serde(default)]
    pub abbreviations: bool,
    /// Merge same-type mentions separated by exactly one space.
    #[serde(default)]
    pub merge_adjacent: bool,
    /// Merge touching same-type mentions and trim separators and unmatched brackets off mention edges.
    #[serde(default)]
    pub tidy_edges: bool,
    /// Drop decoded mentions scoring below this (0: keep all).
    #[serde(default)]
    pub min_score: f64,
    /// Forms whose mentions are dropped (empty: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<Exclusion>,
    /// Forms to add where the tagger found nothing (empty: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lexicon: Vec<LexiconEntry>,
    /// Learned boundary correction, the last step (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundaries: Option<BoundaryModel>,
}

/// A form whose mentions refinement drops: compared with a mention's whole text, lower-cased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exclusion {
    /// The form, lower case.
    pub form: String,
    /// Share of its free whole-word occurrences in the training texts that were annotated as exactly this form.
    pub share: f64,
}

/// A form of a refinement lexicon: matched as whole words, ASCII case ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexiconEntry {
    /// The form, lower case.
    pub form: String,
    /// Type of the mentions it adds.
    pub entity_type: EntityType,
    /// Share of its whole-word occurrences in the training texts that were annotated (the added mentions' score).
    pub precision: f64,
}

impl Refine {
    /// Abbreviations, edge tidying and fragment merging on, no score floor, no lexicon: the setting of newly trained
    /// models
    /// (`crag-train extract-eval --tune --lexicon` chooses the rest).
    pub const ALL: Refine = Refine {
        abbreviations: true,
        merge_adjacent: true,
        tidy_edges: true,
        min_score: 0.0,
        exclusions: Vec::new(),
        lexicon: Vec::new(),
        boundaries: None,
    };

    /// Whether any refinement is on.
    pub fn any(&self) -> bool {
        self.abbreviations
            || self.merge_adjacent
            || self.tidy_edges
            || self.min_score > 0.0
            || !self.exclusions.is_empty()
            || !self.lexicon.is_empty()
            || self.boundaries.is_some()
    }
}

/// An abbreviation definition `long (short)`: char ranges `[start, end)` of both forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abbreviation {
    /// The long form, from the start of its first word to its last char before the parenthesis.
    pub long: (usize, usize),
    /// The short form, inside the parentheses.
    pub short: (usize, usize),
}

/// Longest short form, in chars.
const MAX_SHORT: usize = 10;

/// Abbreviation definitions `long form (SF)` of `text` (char offsets), after Schwartz & Hearst (2003): the short
/// form is 2–10 chars (or one capital letter: "testosterone (T)") right after an opening parenthesis, without spaces
/// or nested parentheses, ended by the closing one or by `,` `;` `:` and a space ("phenobarbital (PB: 15 mg)"),
/// starts with a letter or digit and holds a letter; the long form is found among the `min(|SF| + 5, 2·|SF|)`
/// words before the parenthesis by matching the short form's letters and digits right to left, the first one at the
/// start of a word — or its letters only when the digits are not there ("thyroxine (T4)").
pub fn abbreviations(text: &str) -> Vec<Abbreviation> {
    definitions(&text.chars().collect::<Vec<_>>())
}

/// [`abbreviations`] over the chars of a text.
fn definitions(chars: &[char]) -> Vec<Abbreviation> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '(' {
            i += 1;
            continue;
        }
        let open = i;
        let close = (open + 1..chars.len().min(open + 2 + MAX_SHORT)).find(|&k| {
            chars[k] == ')'
                || chars[k] == '('
                || chars[k].is_whitespace()
                || (matches!(chars[k], ',' | ';' | ':')
                    && chars.get(k + 1).is_some_and(|c| c.is_whitespace()))
        });
        i += 1;
        let Some(close) = close.filter(|&k| chars[k] != '(' && !chars[k].is_whitespace()) else {
            continue;
        };
        let short = &chars[open + 1..close];
        if short.is_empty()
            || (short.len() < 2 && !short[0].is_uppercase())
            || !short[0].is_alphanumeric()
            || !short.iter().any(|c| c.is_alphabetic())
            || open < 2
            || chars[open - 1] != ' '
        {
            continue;
        }
        let letters: Vec<char> = short
            .iter()
            .copied()
            .filter(|c| !c.is_ascii_digit())
            .collect();
        let retry = || {
            (letters.len() < short.len() && letters.iter().any(|c| c.is_alphabetic()))
                .then(|| long_form(chars, open - 1, &letters))
                .flatten()
        };
        if let Some(long) = long_form(chars, open - 1, short).or_else(retry) {
            out.push(Abbreviation {
                long,
                short: (open + 1, close),
            });
        }
    }
    out
}

/// The long form ending before `end` (the space before the parenthesis) for `short`, if its letters match.
fn long_form(chars: &[char], end: usize, short: &[char]) -> Option<(usize, usize)> {
    let mut end = end;
    while end > 0 && chars[end - 1].is_whitespace() {
        end -= 1;
    }
    // Word starts before `end`, nearest last.
    let max_words = (short.len() + 5).min(short.len() * 2);
    let mut starts = Vec::new();
    let mut k = end;
    while k > 0 && starts.len() < max_words {
        while k > 0 && chars[k - 1].is_whitespace() {
            k -= 1;
        }
        if k == 0 {
            break;
        }
        while k > 0 && !chars[k - 1].is_whitespace() {
            k -= 1;
        }
        starts.push(k);
    }
    let window_start = *starts.last()?;
    let lower = |c: char| c.to_lowercase().next().unwrap_or(c);
    let wanted: Vec<char> = short
        .iter()
        .filter(|c| c.is_alphanumeric())
        .map(|&c| lower(c))
        .collect();
    let mut li = end; // one past the next char to look at
    for (n, &c) in wanted.iter().enumerate().rev() {
        let first = n == 0;
        loop {
            if li <= window_start {
                return None;
            }
            li -= 1;
            let at_word_start = li == 0 || !chars[li - 1].is_alphanumeric();
            if lower(chars[li]) == c && (!first || at_word_start) {
                break;
            }
        }
    }
    // The long form starts at the beginning of the (whitespace-delimited) word holding the first match.
    let start = starts.iter().copied().find(|&s| s <= li)?;
    (start < end).then_some((start, end))
}

/// The other number of a short form of at least 3 chars without lower-case letters but an optional plural `s`:
/// "COCs" ↔ "COC", "NSAID" ↔ "NSAIDs" (abstracts define one and use both).
fn plural_variant(short: &[char]) -> Option<Vec<char>> {
    let (last, stem) = short.split_last()?;
    if short.len() < 3 || stem.iter().any(|c| c.is_lowercase()) {
        return None;
    }
    Some(if *last == 's' {
        stem.to_vec()
    } else if last.is_lowercase() {
        return None;
    } else {
        short.iter().copied().chain(std::iter::once('s')).collect()
    })
}

/// Whole-word occurrences (char ranges) of `form` in `chars`.
fn occurrences(chars: &[char], form: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if form.is_empty() || form.len() > chars.len() {
        return out;
    }
    for s in 0..=chars.len() - form.len() {
        let e = s + form.len();
        if chars[s..e] == *form
            && (s == 0 || !chars[s - 1].is_alphanumeric())
            && (e == chars.len() || !chars[e].is_alphanumeric())
        {
            out.push((s, e));
        }
    }
    out
}

fn overlaps(m: &Mention, (s, e): (usize, usize)) -> bool {
    m.start < e && s < m.end
}

/// Whole-word matches `(char start, char end, pattern)` of an ASCII-case-insensitive automaton in `text`.
fn word_matches(
    ac: &AhoCorasick,
    text: &str,
    idx: &CharIndex,
    chars: &[char],
) -> Vec<(usize, usize, usize)> {
    let boundary = |i: usize| {
        i == 0 || i == chars.len() || !chars[i - 1].is_alphanumeric() || !chars[i].is_alphanumeric()
    };
    ac.find_overlapping_iter(text)
        .filter_map(|m| {
            let (s, e) = (idx.to_char(m.start())?, idx.to_char(m.end())?);
            (boundary(s) && boundary(e)).then_some((s, e, m.pattern().as_usize()))
        })
        .collect()
}

/// [`word_matches`] of a text on its own (corpus statistics; refinement reuses the text's index and chars).
fn text_word_matches(ac: &AhoCorasick, text: &str) -> Vec<(usize, usize, usize)> {
    let chars: Vec<char> = text.chars().collect();
    word_matches(ac, text, &CharIndex::new(text), &chars)
}

fn automaton<I: IntoIterator<Item = P>, P: AsRef<[u8]>>(forms: I) -> Result<AhoCorasick> {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(forms)
        .map_err(|e| CragError::CorruptModel(format!("refinement lexicon: {e}")))
}

/// A [`Refine`] setting ready to apply to many texts (its lexicon compiled once; the extension keeps one per loaded
/// model).
pub struct Refiner {
    opts: Refine,
    exclusions: HashSet<String>,
    lexicon: Option<AhoCorasick>,
    boundaries: Option<Boundaries>,
}

impl Refiner {
    /// Compile `opts`.
    pub fn new(opts: &Refine) -> Result<Self> {
        let lexicon = if opts.lexicon.is_empty() {
            None
        } else {
            Some(automaton(opts.lexicon.iter().map(|e| e.form.as_str()))?)
        };
        // The boundary model lives compiled in `boundaries` only: its counts are the largest part of a config.
        let without_boundaries = Refine {
            abbreviations: opts.abbreviations,
            merge_adjacent: opts.merge_adjacent,
            tidy_edges: opts.tidy_edges,
            min_score: opts.min_score,
            exclusions: opts.exclusions.clone(),
            lexicon: opts.lexicon.clone(),
            boundaries: None,
        };
        Ok(Refiner {
            opts: without_boundaries,
            exclusions: opts.exclusions.iter().map(|x| x.form.clone()).collect(),
            lexicon,
            boundaries: opts.boundaries.as_ref().map(Boundaries::new).transpose()?,
        })
    }

    /// Refine the mentions decoded from `text` (char offsets); the result is sorted by start.
    pub fn apply(&self, text: &str, mentions: Vec<Mention>) -> Vec<Mention> {
        let opts = &self.opts;
        let mut ms = mentions;
        if !opts.any() && self.boundaries.is_none() {
            return ms;
        }
        ms.retain(|m| m.score >= opts.min_score);
        let idx = CharIndex::new(text);
        let chars: Vec<char> = text.chars().collect();
        let slice = |s: usize, e: usize| idx.slice(text, s, e).unwrap_or_default().to_string();
        if opts.tidy_edges {
            ms = tidy_edges(&chars, ms);
            for m in &mut ms {
                m.text = slice(m.start, m.end);
            }
        }
        if !self.exclusions.is_empty() {
            ms.retain(|m| !self.exclusions.contains(&m.text.to_lowercase()));
        }
        if opts.abbreviations {
            for ab in definitions(&chars) {
                let le = ab.long.1;
                let short = &chars[ab.short.0..ab.short.1];
                let mut found = occurrences(&chars, short);
                if let Some(variant) = plural_variant(short) {
                    found.extend(occurrences(&chars, &variant));
                }
                let defining = ms
                    .iter()
                    .filter(|m| m.end == le)
                    .max_by(|a, b| (a.end - a.start).cmp(&(b.end - b.start)))
                    .map(|m| (m.entity_type, m.score));
                match defining {
                    Some((t, score)) => {
                        ms.retain(|m| !found.iter().any(|&o| overlaps(m, o)));
                        ms.extend(found.iter().map(|&(s, e)| Mention {
                            start: s,
                            end: e,
                            text: slice(s, e),
                            entity_type: t,
                            score,
                        }));
                    }
                    None if !ms.iter().any(|m| overlaps(m, ab.long)) => {
                        ms.retain(|m| !found.contains(&(m.start, m.end)));
                    }
                    None => {}
                }
            }
        }
        ms.sort_by_key(|m| (m.start, m.end));
        if opts.merge_adjacent {
            let mut merged: Vec<Mention> = Vec::with_capacity(ms.len());
            for m in ms {
                match merged.last_mut() {
                    Some(p)
                        if p.entity_type == m.entity_type
                            && m.start == p.end + 1
                            && chars.get(p.end) == Some(&' ') =>
                    {
                        let (a, b) = ((p.end - p.start) as f64, (m.end - m.start) as f64);
                        p.score = (p.score * a + m.score * b) / (a + b);
                        p.end = m.end;
                        p.text = slice(p.start, p.end);
                    }
                    _ => merged.push(m),
                }
            }
            ms = merged;
        }
        if let Some(ac) = &self.lexicon {
            let mut found = word_matches(ac, text, &idx, &chars);
            // Longest first, then leftmost; a match never overrides a mention or an earlier match.
            found.sort_by_key(|&(s, e, _)| (std::cmp::Reverse(e - s), s));
            for (s, e, k) in found {
                if ms.iter().any(|m| overlaps(m, (s, e))) {
                    continue;
                }
                let entry = &opts.lexicon[k];
                ms.push(Mention {
                    start: s,
                    end: e,
                    text: slice(s, e),
                    entity_type: entry.entity_type,
                    score: entry.precision,
                });
            }
            ms.sort_by_key(|m| (m.start, m.end));
        }
        if let Some(b) = &self.boundaries {
            ms = b.apply(text, ms);
        }
        ms
    }
}

/// Chars a mention does not start with: closing brackets, separators, spaces.
const NOT_FIRST: &[char] = &[')', ']', '}', ',', ';', ':', '/', '-'];
/// Chars a mention does not end with: opening brackets, separators, spaces.
const NOT_LAST: &[char] = &['(', '[', '{', ',', ';', ':', '/', '-'];

/// Chars at which touching mentions stay apart: a bracket opens a definition or an aside ("SKF-82958 (6-chloro…"),
/// a slash lists alternatives ("polymyositis/dermatomyositis"). A hyphen between two letters does too
/// ("prostigmine-morphine" names two drugs; "22-" + "oxacalcitriol" joins).
const NO_JOIN: &[char] = &['(', '[', '{', ')', ']', '}', '/'];

/// Whether the brackets of `text` close in order.
fn balanced(text: &[char]) -> bool {
    let mut open = Vec::new();
    for &c in text {
        let want = match c {
            '(' | '[' | '{' => {
                open.push(c);
                continue;
            }
            ')' => '(',
            ']' => '[',
            '}' => '{',
            _ => continue,
        };
        if open.pop() != Some(want) {
            return false;
        }
    }
    open.is_empty()
}

/// [`Refine::tidy_edges`] over `chars` (mention texts left stale): touching same-type mentions merged (score
/// length-weighted) unless a bracket or slash is where they meet; then separators and opening (closing) brackets
/// are trimmed off the end (start), and a closing (opening) bracket too when the mention's brackets do not balance,
/// while the mention keeps at least one char. Sorted by start.
fn tidy_edges(chars: &[char], mut ms: Vec<Mention>) -> Vec<Mention> {
    ms.sort_by_key(|m| (m.start, m.end));
    let at = |i: usize| chars.get(i).copied().unwrap_or(' ');
    let mut out: Vec<Mention> = Vec::with_capacity(ms.len());
    for m in ms {
        match out.last_mut() {
            Some(p)
                if p.entity_type == m.entity_type
                    && p.end == m.start
                    && m.start > 0
                    && !NO_JOIN.contains(&at(m.start - 1))
                    && !NO_JOIN.contains(&at(m.start))
                    && !(at(m.start - 1) == '-'
                        && m.start >= 2
                        && at(m.start - 2).is_alphabetic()
                        && at(m.start).is_alphabetic()) =>
            {
                let (a, b) = ((p.end - p.start) as f64, (m.end - m.start) as f64);
                p.score = (p.score * a + m.score * b) / (a + b);
                p.end = m.end;
            }
            _ => out.push(m),
        }
    }
    for m in &mut out {
        while m.end > m.start + 1 {
            let (first, last) = (at(m.start), at(m.end - 1));
            let unbalanced = || !balanced(&chars[m.start..m.end]);
            if NOT_LAST.contains(&last) || last.is_whitespace() {
                m.end -= 1;
            } else if NOT_FIRST.contains(&first) || first.is_whitespace() {
                m.start += 1;
            } else if matches!(last, ')' | ']' | '}') && unbalanced() {
                m.end -= 1;
            } else if matches!(first, '(' | '[' | '{') && unbalanced() {
                m.start += 1;
            } else {
                break;
            }
        }
    }
    out
}

/// Apply `opts` to the mentions decoded from `text` (char offsets); the result is sorted by start.
pub fn refine(text: &str, mentions: Vec<Mention>, opts: &Refine) -> Result<Vec<Mention>> {
    Ok(Refiner::new(opts)?.apply(text, mentions))
}

/// Longest form (chars) that counts as an abbreviation when only ever annotated without lower-case letters.
const MAX_LEXICON_ABBREVIATION: usize = 6;

/// What a form needs to enter a lexicon built by [`build_lexicon`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LexiconRules {
    /// Annotated at least this often.
    pub min_annotated: usize,
    /// Whole-word (ASCII-case-insensitive) occurrences in the texts, at least.
    pub min_occurrences: usize,
    /// Share of those occurrences that were annotated, at least.
    pub min_precision: f64,
    /// A short form only ever annotated without lower-case letters ("LID", "TAC") is an abbreviation whose meaning
    /// each document defines, left to the abbreviation step — unless it is annotated in at least this many
    /// documents: then it is a conventional one ("5-HT", "ATP").
    pub min_abbreviation_docs: usize,
}

/// Names of a standard terminology (e.g. SIDER's drug names and MedDRA side-effect terms) that vouch for lexicon
/// forms: that a form is a drug or side-effect name is known, only whether the corpus marks it is left to learn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Terminology {
    /// Lower-cased name → the type its mentions take when the training annotations never saw it.
    pub names: HashMap<String, EntityType>,
    /// Types whose names the training texts never contain enter the lexicon too (scored by the type's prior, see
    /// [`build_lexicon_with_terms`]).
    pub unseen: Vec<EntityType>,
}

impl Terminology {
    /// A terminology of `names` (lower-cased; the first type given for a name wins), no unseen names entering.
    pub fn new<'a>(names: impl IntoIterator<Item = (&'a str, EntityType)>) -> Self {
        let mut out = HashMap::new();
        for (name, t) in names {
            out.entry(name.to_lowercase()).or_insert(t);
        }
        Terminology {
            names: out,
            unseen: Vec::new(),
        }
    }
}

/// A lexicon from annotated documents: each lower-cased entity form of at least 3 chars that meets `rules`, typed by
/// its most frequent annotation (ties: the earlier type of [`EntityType::ALL`]). Sorted by form.
pub fn build_lexicon(docs: &[Document], rules: &LexiconRules) -> Result<Vec<LexiconEntry>> {
    build_lexicon_with_terms(docs, rules, &Terminology::default())
}

/// [`build_lexicon`] with a terminology's word: a form that is one of `terms`' names needs only one annotation and
/// one occurrence (its precision must still reach `rules.min_precision`), and names of `terms.unseen` types that
/// occur nowhere in the texts enter with their type's prior as precision — the share of the texts' occurrences of
/// that type's names found in a single document (names new to the rest of the corpus) that are annotated as exactly
/// that span and type — when it reaches `rules.min_precision`.
pub fn build_lexicon_with_terms(
    docs: &[Document],
    rules: &LexiconRules,
    terms: &Terminology,
) -> Result<Vec<LexiconEntry>> {
    let LexiconRules {
        min_annotated,
        min_occurrences,
        min_precision,
        min_abbreviation_docs,
    } = *rules;
    let named = |f: &str| terms.names.contains_key(f);
    let mut annotated: HashMap<String, HashMap<EntityType, usize>> = HashMap::new();
    // Forms ever annotated with a lower-case letter; the others, when short, are abbreviations.
    let mut cased: HashSet<String> = HashSet::new();
    // Documents annotating each form.
    let mut in_docs: HashMap<String, HashSet<&str>> = HashMap::new();
    for d in docs {
        for e in &d.entities {
            let form = e.text.to_lowercase();
            if form.chars().count() >= 3 {
                if e.text.chars().any(char::is_lowercase) {
                    cased.insert(form.clone());
                }
                in_docs.entry(form.clone()).or_default().insert(&d.id);
                *annotated
                    .entry(form)
                    .or_default()
                    .entry(e.entity_type)
                    .or_default() += 1;
            }
        }
    }
    let mut forms: Vec<String> = annotated
        .iter()
        .filter(|(f, t)| {
            (t.values().sum::<usize>() >= min_annotated || named(f))
                && (cased.contains(*f)
                    || f.chars().count() > MAX_LEXICON_ABBREVIATION
                    || in_docs[*f].len() >= min_abbreviation_docs)
        })
        .map(|(f, _)| f.clone())
        .collect();
    forms.sort();
    let mut out = unseen_names(docs, terms, min_precision)?;
    if forms.is_empty() {
        out.sort_by(|a, b| a.form.cmp(&b.form));
        return Ok(out);
    }
    let ac = automaton(&forms)?;
    let mut seen = vec![0usize; forms.len()];
    for d in docs {
        for (_, _, k) in text_word_matches(&ac, &d.text) {
            seen[k] += 1;
        }
    }
    for (k, form) in forms.into_iter().enumerate() {
        let types = &annotated[&form];
        let a: usize = types.values().sum();
        let n = seen[k];
        let need = if named(&form) {
            min_occurrences.min(1)
        } else {
            min_occurrences
        };
        if n < need {
            continue;
        }
        let precision = (a as f64 / n as f64).min(1.0);
        if precision < min_precision {
            continue;
        }
        let mut entity_type = EntityType::ALL[0];
        for t in EntityType::ALL {
            if types.get(&t).copied().unwrap_or(0) > types.get(&entity_type).copied().unwrap_or(0) {
                entity_type = t;
            }
        }
        out.push(LexiconEntry {
            form,
            entity_type,
            precision,
        });
    }
    out.sort_by(|a, b| a.form.cmp(&b.form));
    out.dedup_by(|a, b| a.form == b.form);
    Ok(out)
}

/// How often a name of a terminology turns out annotated in a corpus where it is new: per type, of the occurrences in
/// `docs` of `terms`' names found in one document only, how many (`annotated`) are annotated as exactly that span and
/// type. [`build_lexicon_with_terms`] scores names the corpus never contains by `annotated / occurrences`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NamePrior {
    /// Occurrences of names found in one document only.
    pub occurrences: usize,
    /// Those annotated exactly.
    pub annotated: usize,
}

impl NamePrior {
    /// `annotated / occurrences` (0 without occurrences).
    pub fn share(&self) -> f64 {
        if self.occurrences == 0 {
            0.0
        } else {
            self.annotated as f64 / self.occurrences as f64
        }
    }
}

/// `terms`' names of at least 3 chars, sorted, with the documents of `docs` each occurs in (whole word, ASCII case
/// ignored), and the [`NamePrior`] of each type.
#[allow(clippy::type_complexity)]
fn name_occurrences<'a>(
    docs: &[Document],
    terms: &'a Terminology,
) -> Result<(
    Vec<(&'a str, EntityType)>,
    Vec<HashSet<usize>>,
    BTreeMap<EntityType, NamePrior>,
)> {
    let mut names: Vec<(&str, EntityType)> = terms
        .names
        .iter()
        .filter(|(n, _)| n.chars().count() >= 3)
        .map(|(n, &t)| (n.as_str(), t))
        .collect();
    names.sort();
    let mut priors: BTreeMap<EntityType, NamePrior> = BTreeMap::new();
    if names.is_empty() {
        return Ok((names, vec![], priors));
    }
    let ac = automaton(names.iter().map(|(n, _)| n))?;
    let mut in_docs: Vec<HashSet<usize>> = vec![HashSet::new(); names.len()];
    let mut found = Vec::with_capacity(docs.len());
    for (d, doc) in docs.iter().enumerate() {
        let m = text_word_matches(&ac, &doc.text);
        for &(_, _, k) in &m {
            in_docs[k].insert(d);
        }
        found.push(m);
    }
    for (doc, m) in docs.iter().zip(&found) {
        for &(s, e, k) in m {
            if in_docs[k].len() != 1 {
                continue;
            }
            let t = names[k].1;
            let p = priors.entry(t).or_default();
            p.occurrences += 1;
            if doc
                .entities
                .iter()
                .any(|x| x.start == s && x.end == e && x.entity_type == t)
            {
                p.annotated += 1;
            }
        }
    }
    Ok((names, in_docs, priors))
}

/// Per type of `terms`, the [`NamePrior`] of its names in `docs` (what unseen names are scored by).
pub fn name_priors(
    docs: &[Document],
    terms: &Terminology,
) -> Result<BTreeMap<EntityType, NamePrior>> {
    Ok(name_occurrences(docs, terms)?.2)
}

/// The lexicon entries of [`Terminology::unseen`] names (at least 3 chars) that occur in none of `docs`, each typed by
/// the terminology and scored by its type's prior (see [`build_lexicon_with_terms`]), when that reaches
/// `min_precision`.
fn unseen_names(
    docs: &[Document],
    terms: &Terminology,
    min_precision: f64,
) -> Result<Vec<LexiconEntry>> {
    if terms.unseen.is_empty() {
        return Ok(vec![]);
    }
    let (names, in_docs, priors) = name_occurrences(docs, terms)?;
    Ok(names
        .iter()
        .zip(&in_docs)
        .filter(|&(&(_, t), seen)| seen.is_empty() && terms.unseen.contains(&t))
        .filter_map(|(&(name, t), _)| {
            let p = priors.get(&t).copied().unwrap_or_default().share();
            (p >= min_precision && p > 0.0).then(|| LexiconEntry {
                form: name.to_string(),
                entity_type: t,
                precision: p,
            })
        })
        .collect())
}

/// Exclusions from annotated documents. Candidates are the lower-cased runs of whole (whitespace-delimited) words
/// of annotated mentions ("venous thromboembolism" gives "venous", "thromboembolism" and itself). A candidate's
/// *free* occurrences are its whole-word, ASCII-case-insensitive occurrences in the texts that do not lie inside a
/// longer annotation; it is excluded when it has at least `min_occurrences` of them and fewer than `max_share` of
/// those are annotated as exactly that span. Sorted by form.
pub fn build_exclusions(
    docs: &[Document],
    min_occurrences: usize,
    max_share: f64,
) -> Result<Vec<Exclusion>> {
    let mut forms: Vec<String> = docs
        .iter()
        .flat_map(|d| &d.entities)
        .flat_map(|e| {
            let lower = e.text.to_lowercase();
            let words: Vec<&str> = lower.split_whitespace().collect();
            (0..words.len())
                .flat_map(|i| (i + 1..=words.len()).map(move |j| (i, j)))
                .map(|(i, j)| words[i..j].join(" "))
                .collect::<Vec<_>>()
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    forms.sort();
    if forms.is_empty() {
        return Ok(vec![]);
    }
    let ac = automaton(&forms)?;
    // (free occurrences, exactly annotated) per form.
    let mut counts = vec![(0usize, 0usize); forms.len()];
    for d in docs {
        let spans: Vec<(usize, usize)> = d.entities.iter().map(|e| (e.start, e.end)).collect();
        for (s, e, k) in text_word_matches(&ac, &d.text) {
            if spans
                .iter()
                .any(|&(a, b)| a <= s && e <= b && (a, b) != (s, e))
            {
                continue;
            }
            counts[k].0 += 1;
            if spans.contains(&(s, e)) {
                counts[k].1 += 1;
            }
        }
    }
    Ok(forms
        .into_iter()
        .zip(counts)
        .filter(|&(_, (free, _))| free >= min_occurrences.max(1))
        .map(|(form, (free, exact))| Exclusion {
            form,
            share: exact as f64 / free as f64,
        })
        .filter(|x| x.share < max_share)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str, s: usize, e: usize, t: EntityType) -> Mention {
        Mention {
            start: s,
            end: e,
            text: text.chars().skip(s).take(e - s).collect(),
            entity_type: t,
            score: 0.9,
        }
    }

    #[test]
    fn boundaries_run_last_and_round_trip_through_the_config() {
        use crate::ner::boundary::{CorpusCounts, Node, Tree};
        use crate::ner::schema::Entity;
        let train = Document {
            id: String::new(),
            text: "An adenoma.".into(),
            entities: vec![Entity {
                id: String::new(),
                text: "adenoma".into(),
                entity_type: EntityType::Disease,
                start: 3,
                end: 10,
            }],
            relations: vec![],
        };
        // Log-odds +4 for spans whose first word begins a training annotation, -4 otherwise.
        let model = BoundaryModel {
            base_score: 0.0,
            margin: 0.5,
            counts: CorpusCounts::sum(&CorpusCounts::per_document(&[train])),
            trees: vec![Tree(vec![
                Node::Split(6, 1e-9, 1, 2),
                Node::Leaf(-4.0),
                Node::Leaf(4.0),
            ])],
            keep: vec![],
        };
        let opts = Refine {
            boundaries: Some(model),
            ..Refine::ALL
        };
        assert!(opts.any());
        let json = serde_json::to_value(&opts).expect("json");
        let back: Refine = serde_json::from_value(json.clone()).expect("read back");
        assert_eq!(back, opts);
        let text = "Hepatic adenoma (HA) in a woman; HA again.";
        let out = refine(text, vec![m(text, 0, 15, EntityType::Disease)], &back).expect("refine");
        // The abbreviation step propagates first (from the tagger's long form), then the boundary moves the mention.
        let got: Vec<&str> = out.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(got, vec!["adenoma", "HA", "HA"]);
        // Configs without the key keep working; a broken tree is an error when the refiner is built.
        let mut old = json.clone();
        old.as_object_mut().expect("object").remove("boundaries");
        assert_eq!(
            serde_json::from_value::<Refine>(old)
                .expect("old")
                .boundaries,
            None
        );
        let mut broken = json;
        broken["boundaries"]["trees"][0][0] = serde_json::json!([6, 0.5, 0, 0]);
        let bad: Refine = serde_json::from_value(broken).expect("parses");
        assert!(Refiner::new(&bad).is_err());
    }

    fn spans(text: &str, ab: &[Abbreviation]) -> Vec<(String, String)> {
        let c: Vec<char> = text.chars().collect();
        ab.iter()
            .map(|a| {
                (
                    c[a.long.0..a.long.1].iter().collect(),
                    c[a.short.0..a.short.1].iter().collect(),
                )
            })
            .collect()
    }

    #[test]
    fn finds_schwartz_hearst_definitions() {
        let t = "Patients with systemic lupus erythematosus (SLE) and heart failure (HF) got \
                 5-fluorouracil (5-FU); 5-HT (serotonin) and rats (x) are not definitions.";
        let got = spans(t, &abbreviations(t));
        assert_eq!(
            got,
            vec![
                ("systemic lupus erythematosus".into(), "SLE".into()),
                ("heart failure".into(), "HF".into()),
                ("5-fluorouracil".into(), "5-FU".into()),
            ]
        );
    }

    #[test]
    fn finds_one_capital_separated_and_digit_free_definitions() {
        let t = "Serum testosterone (T) fell after phenobarbital (PB: 15 mg per rat) and thyroxine (T4), \
                 but not in rats (n = 12) or (b) cases.";
        assert_eq!(
            spans(t, &abbreviations(t)),
            vec![
                ("testosterone".into(), "T".into()),
                ("phenobarbital".into(), "PB".into()),
                ("thyroxine".into(), "T4".into()),
            ]
        );
        // Empty and separator-only parentheses are no definitions (and no panic).
        for t in [
            "a () b",
            "x (: y)",
            "heart failure (",
            "(",
            "()",
            "rats (, n)",
        ] {
            assert!(abbreviations(t).is_empty(), "{t}");
        }
        // Digits that are in the long form must match as before.
        let t = "17beta-estradiol (E2) and 5-fluorouracil (5-FU)";
        assert_eq!(
            spans(t, &abbreviations(t)),
            vec![
                ("17beta-estradiol".into(), "E2".into()),
                ("5-fluorouracil".into(), "5-FU".into()),
            ]
        );
    }

    #[test]
    fn a_mention_ending_with_the_long_form_defines_both_numbers() {
        // The letters of "COCs" stop at "contraceptives"; the tagger's mention starts earlier and still defines it.
        let t = "women on combined oral contraceptives (COCs): COC users and COCs.";
        let ms = refine(t, vec![m(t, 18, 37, EntityType::Drug)], &Refine::ALL).unwrap();
        let got: Vec<(&str, usize)> = ms.iter().map(|m| (m.text.as_str(), m.start)).collect();
        assert_eq!(
            got,
            vec![
                ("oral contraceptives", 18),
                ("COCs", 39),
                ("COC", 46),
                ("COCs", 60),
            ]
        );
        assert_eq!(plural_variant(&['N', 'O', 'x']), None);
        assert_eq!(plural_variant(&['H', 'F']), None);
        assert_eq!(
            plural_variant(&['N', 'S', 'A', 'I', 'D']),
            Some(vec!['N', 'S', 'A', 'I', 'D', 's'])
        );
    }

    #[test]
    fn first_letter_must_start_a_word() {
        // "T" of "TSH" cannot be the "t" inside "thyroid-stimulating"; it must start a word.
        let t = "the thyroid-stimulating hormone (TSH) level";
        assert_eq!(
            spans(t, &abbreviations(t)),
            vec![("thyroid-stimulating hormone".into(), "TSH".into())]
        );
        let t = "an unrelated phrase (XQZ) here";
        assert!(abbreviations(t).is_empty());
    }

    #[test]
    fn offsets_are_chars_on_non_ascii_text() {
        let t = "Ärzte sahen Lithium-Toxizität (LT) – LT war häufig.";
        let ab = abbreviations(t);
        assert_eq!(
            spans(t, &ab),
            vec![("Lithium-Toxizität".into(), "LT".into())]
        );
        let ms = refine(t, vec![m(t, 12, 29, EntityType::Disease)], &Refine::ALL).unwrap();
        let got: Vec<(&str, usize)> = ms.iter().map(|m| (m.text.as_str(), m.start)).collect();
        assert_eq!(got, vec![("Lithium-Toxizität", 12), ("LT", 31), ("LT", 37)]);
    }

    #[test]
    fn short_forms_take_the_type_of_their_long_form() {
        let t = "Overactive bladder (OAB) is common. OAB was treated; OABx is not OAB-like? OAB.";
        let given = vec![
            m(t, 0, 18, EntityType::Disease),
            // A wrong type on one use is replaced.
            m(t, 36, 39, EntityType::Drug),
        ];
        let ms = refine(t, given, &Refine::ALL).unwrap();
        let got: Vec<(String, usize, EntityType)> = ms
            .iter()
            .map(|m| (m.text.clone(), m.start, m.entity_type))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Overactive bladder".into(), 0, EntityType::Disease),
                ("OAB".into(), 20, EntityType::Disease),
                ("OAB".into(), 36, EntityType::Disease),
                ("OAB".into(), 65, EntityType::Disease),
                ("OAB".into(), 75, EntityType::Disease),
            ]
        );
        assert!(ms.iter().all(|m| m.score == 0.9));
    }

    #[test]
    fn short_forms_of_non_entities_are_dropped() {
        let t = "spontaneously hypertensive rats (SHR) got captopril; SHR had lower pressure.";
        let given = vec![
            m(t, 33, 36, EntityType::Drug),
            m(t, 42, 51, EntityType::Drug),
            m(t, 53, 56, EntityType::Drug),
        ];
        let ms = refine(t, given, &Refine::ALL).unwrap();
        let got: Vec<&str> = ms.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(got, vec!["captopril"]);
        // A mention inside the long form that does not end with it: nothing is changed.
        let given = vec![
            m(t, 0, 26, EntityType::Disease),
            m(t, 53, 56, EntityType::Drug),
        ];
        assert_eq!(refine(t, given.clone(), &Refine::ALL).unwrap(), given);
    }

    #[test]
    fn adjacent_fragments_merge_only_across_one_space_and_one_type() {
        let t = "iron dextran, iron  dextran and aspirin fever";
        let given = vec![
            m(t, 0, 4, EntityType::Drug),
            m(t, 5, 12, EntityType::Drug),
            m(t, 14, 18, EntityType::Drug),
            m(t, 20, 27, EntityType::Drug),
            m(t, 32, 39, EntityType::Drug),
            m(t, 40, 45, EntityType::Disease),
        ];
        let ms = refine(t, given.clone(), &Refine::ALL).unwrap();
        let got: Vec<&str> = ms.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(
            got,
            vec!["iron dextran", "iron", "dextran", "aspirin", "fever"]
        );
        let off = Refine::default();
        assert_eq!(refine(t, given.clone(), &off).unwrap(), given);
        let only_merge = Refine {
            merge_adjacent: true,
            ..off
        };
        assert_eq!(refine(t, given, &only_merge).unwrap().len(), 5);
    }

    #[test]
    fn merged_score_is_length_weighted() {
        let t = "ab cdef";
        let mut a = m(t, 0, 2, EntityType::Drug);
        a.score = 0.5;
        let mut b = m(t, 3, 7, EntityType::Drug);
        b.score = 0.8;
        let ms = refine(t, vec![a, b], &Refine::ALL).unwrap();
        assert_eq!(ms.len(), 1);
        assert!((ms[0].score - 0.7).abs() < 1e-12);
    }

    #[test]
    fn edges_merge_touching_mentions_and_lose_stray_punctuation() {
        let t = "5,7-dihydroxytryptamine, SKF-82958 (6-Cl) and , aspirin/fever";
        let mut five = m(t, 0, 2, EntityType::Drug);
        five.score = 0.5;
        let given = vec![
            five,
            m(t, 2, 23, EntityType::Drug),
            m(t, 25, 36, EntityType::Drug),
            m(t, 46, 55, EntityType::Drug),
            m(t, 55, 61, EntityType::Disease),
        ];
        let tidy = Refine {
            tidy_edges: true,
            ..Refine::default()
        };
        assert!(tidy.any());
        let ms = refine(t, given.clone(), &tidy).unwrap();
        let got: Vec<(&str, EntityType)> = ms
            .iter()
            .map(|m| (m.text.as_str(), m.entity_type))
            .collect();
        assert_eq!(
            got,
            vec![
                ("5,7-dihydroxytryptamine", EntityType::Drug),
                ("SKF-82958", EntityType::Drug),
                ("aspirin", EntityType::Drug),
                ("fever", EntityType::Disease),
            ]
        );
        // Length-weighted score of the merged name: (0.5·2 + 0.9·21) / 23.
        assert!((ms[0].score - 19.9 / 23.0).abs() < 1e-12);
        for x in &ms {
            assert_eq!(
                Some(x.text.as_str()),
                crate::ner::schema::char_slice(t, x.start, x.end)
            );
        }
        assert_eq!(refine(t, given, &Refine::default()).unwrap().len(), 5);
        // Brackets and slashes keep touching mentions apart; unbalanced brackets leave the edges.
        let u = "aspirin [ASA] or SKF-82958 (6-Cl, Ca(2+) prostigmine-morphine";
        let given = vec![
            m(u, 0, 9, EntityType::Drug),
            m(u, 9, 13, EntityType::Drug),
            m(u, 17, 28, EntityType::Drug),
            m(u, 28, 32, EntityType::Drug),
            m(u, 34, 40, EntityType::Drug),
            m(u, 41, 53, EntityType::Drug),
            m(u, 53, 61, EntityType::Drug),
        ];
        let got: Vec<String> = refine(u, given, &tidy)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(
            got,
            vec![
                "aspirin",
                "ASA",
                "SKF-82958",
                "6-Cl",
                "Ca(2+)",
                "prostigmine",
                "morphine"
            ]
        );
        // A mention that is nothing but punctuation keeps one char rather than vanishing.
        let lone = refine("a ( b", vec![m("a ( b", 2, 3, EntityType::Drug)], &tidy).unwrap();
        assert_eq!(lone[0].text, "(");
    }

    #[test]
    fn low_scores_are_dropped_before_they_define_abbreviations() {
        let t = "heart failure (HF) and HF";
        let mut long = m(t, 0, 13, EntityType::Disease);
        long.score = 0.4;
        let opts = Refine {
            min_score: 0.5,
            ..Refine::ALL
        };
        assert!(refine(t, vec![long.clone()], &opts).unwrap().is_empty());
        let kept = refine(t, vec![long], &Refine::ALL).unwrap();
        assert_eq!(kept.len(), 3);
        let only_score = Refine {
            min_score: 0.5,
            ..Refine::default()
        };
        assert!(only_score.any());
        let hi = m(t, 0, 13, EntityType::Disease);
        assert_eq!(refine(t, vec![hi.clone()], &only_score).unwrap(), vec![hi]);
    }

    fn doc(id: &str, text: &str, ents: &[(&str, EntityType)]) -> Document {
        let mut entities = Vec::new();
        for (k, (form, t)) in ents.iter().enumerate() {
            // Every annotated occurrence, in order, of each listed form (char offsets).
            let c: Vec<char> = text.chars().collect();
            let f: Vec<char> = form.chars().collect();
            for (s, e) in occurrences(&c, &f) {
                entities.push(crate::ner::schema::Entity {
                    id: format!("T{k}_{s}"),
                    text: form.to_string(),
                    entity_type: *t,
                    start: s,
                    end: e,
                });
            }
        }
        Document {
            id: id.into(),
            text: text.into(),
            entities,
            relations: vec![],
        }
    }

    fn rules(min_annotated: usize, min_occurrences: usize, min_precision: f64) -> LexiconRules {
        LexiconRules {
            min_annotated,
            min_occurrences,
            min_precision,
            min_abbreviation_docs: 3,
        }
    }

    #[test]
    fn lexicon_from_annotations_counts_whole_word_occurrences() {
        use EntityType::*;
        let docs = vec![
            doc(
                "1",
                "Aspirin caused fever. Fever persisted; aspirinate is not aspirin.",
                &[("Aspirin", Drug), ("aspirin", Drug), ("Fever", Symptom)],
            ),
            doc(
                "2",
                "fever and fever again; no death; IV given.",
                &[("death", Disease), ("IV", Drug)],
            ),
        ];
        // aspirin: annotated 2, occurs 2 (not inside "aspirinate") → 1.0; fever: annotated 1 → below min_annotated;
        // death: annotated once; IV: too short.
        let lex = build_lexicon(&docs, &rules(2, 1, 0.5)).unwrap();
        assert_eq!(
            lex,
            vec![LexiconEntry {
                form: "aspirin".into(),
                entity_type: Drug,
                precision: 1.0
            }]
        );
        // fever annotated once in four occurrences: precision 0.25.
        let lex = build_lexicon(&docs, &rules(1, 1, 0.0)).unwrap();
        let fever = lex.iter().find(|e| e.form == "fever").unwrap();
        assert_eq!((fever.entity_type, fever.precision), (Symptom, 0.25));
        assert!(build_lexicon(&docs, &rules(1, 1, 0.3))
            .unwrap()
            .iter()
            .all(|e| e.form != "fever"));
        assert!(build_lexicon(&docs, &rules(1, 2, 0.0))
            .unwrap()
            .iter()
            .all(|e| e.form != "death"));
        assert!(build_lexicon(&[], &rules(1, 1, 0.0)).unwrap().is_empty());
        // A capitals-only short form of one document is an abbreviation it defines: left out, however
        // consistently that document annotates it.
        let abbr = vec![doc(
            "3",
            "LID and LID; levodopa-induced dyskinesia (LID).",
            &[("LID", Disease)],
        )];
        assert!(build_lexicon(&abbr, &rules(1, 1, 0.0)).unwrap().is_empty());
        // Annotated in 3 documents it is a conventional one, like "5-HT".
        let conventional: Vec<Document> = ["4", "5", "6"]
            .iter()
            .map(|id| doc(id, "5-HT rose; 5-HT fell.", &[("5-HT", Drug)]))
            .collect();
        let lex = build_lexicon(&conventional, &rules(1, 1, 0.0)).unwrap();
        assert_eq!(
            lex,
            vec![LexiconEntry {
                form: "5-ht".into(),
                entity_type: Drug,
                precision: 1.0
            }]
        );
        assert!(build_lexicon(&conventional[..2], &rules(1, 1, 0.0))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn terminology_names_need_one_annotation_and_unseen_ones_their_type_prior() {
        use EntityType::*;
        let docs = vec![
            doc(
                "1",
                "Aspirin given; mesna given; fever rose.",
                &[("Aspirin", Drug), ("mesna", Drug), ("fever", Disease)],
            ),
            doc(
                "2",
                "Naproxen given, naproxen again, then mesna; fever once.",
                &[("fever", Disease)],
            ),
        ];
        let terms = Terminology::new([
            ("aspirin", Drug),
            ("Naproxen", Drug),
            ("ibuprofen", Drug),
            ("mesna", Drug),
            ("nausea", Disease),
            ("fever", Disease),
        ]);
        let strict = rules(2, 3, 0.6);
        assert!(build_lexicon(&docs, &strict).unwrap().is_empty());
        // Named forms need one annotation and one occurrence: aspirin (1 of 1) and fever (2 of 2) enter; mesna
        // (1 of 2) stays below the precision; naproxen was never annotated.
        let forms = |lex: &[LexiconEntry]| {
            lex.iter()
                .map(|e| (e.form.clone(), e.entity_type, e.precision))
                .collect::<Vec<_>>()
        };
        let lex = build_lexicon_with_terms(&docs, &strict, &terms).unwrap();
        assert_eq!(
            forms(&lex),
            vec![
                ("aspirin".into(), Drug, 1.0),
                ("fever".into(), Disease, 1.0)
            ]
        );
        // Unseen drug names take the drugs' prior: of the occurrences of drug names found in one document only
        // (aspirin once, naproxen twice; mesna is in both), 1 of 3 was annotated.
        let unseen = |types: Vec<EntityType>| Terminology {
            unseen: types,
            ..terms.clone()
        };
        let priors = name_priors(&docs, &terms).unwrap();
        assert_eq!(
            priors.get(&Drug),
            Some(&NamePrior {
                occurrences: 3,
                annotated: 1
            })
        );
        assert_eq!(priors.get(&Disease), None, "fever is in both documents");
        let lex = build_lexicon_with_terms(&docs, &rules(2, 3, 0.3), &unseen(vec![Drug])).unwrap();
        let ibuprofen = lex.iter().find(|e| e.form == "ibuprofen").unwrap();
        assert_eq!(ibuprofen.entity_type, Drug);
        assert!((ibuprofen.precision - 1.0 / 3.0).abs() < 1e-12);
        assert!(
            lex.iter().all(|e| e.form != "naproxen"),
            "seen, never annotated"
        );
        // Below the precision, or with no occurrence of the type to learn a prior from (nausea), nothing enters.
        let lex = build_lexicon_with_terms(&docs, &strict, &unseen(vec![Drug, Disease])).unwrap();
        assert_eq!(forms(&lex).len(), 2);
        let lex =
            build_lexicon_with_terms(&docs, &rules(2, 3, 0.0), &unseen(vec![Disease])).unwrap();
        assert!(lex
            .iter()
            .all(|e| e.form != "nausea" && e.form != "ibuprofen"));
        let sorted: Vec<String> = lex.iter().map(|e| e.form.clone()).collect();
        assert!(sorted.windows(2).all(|w| w[0] < w[1]), "{sorted:?}");
    }

    #[test]
    fn lexicon_adds_whole_words_where_nothing_overlaps() {
        let entry = |form: &str, t, p| LexiconEntry {
            form: form.into(),
            entity_type: t,
            precision: p,
        };
        let opts = Refine {
            lexicon: vec![
                entry("renal failure", EntityType::Disease, 0.9),
                entry("failure", EntityType::Disease, 0.8),
                entry("lithium", EntityType::Drug, 0.95),
            ],
            ..Refine::default()
        };
        let t = "Né à Paris: LITHIUM gave acute renal failure; lithiumate and heart failure.";
        let given = vec![m(t, 25, 44, EntityType::Disease)]; // "acute renal failure", from the tagger
        let ms = refine(t, given, &opts).unwrap();
        let got: Vec<(&str, usize, EntityType, f64)> = ms
            .iter()
            .map(|m| (m.text.as_str(), m.start, m.entity_type, m.score))
            .collect();
        assert_eq!(
            got,
            vec![
                ("LITHIUM", 12, EntityType::Drug, 0.95),
                ("acute renal failure", 25, EntityType::Disease, 0.9),
                ("failure", 67, EntityType::Disease, 0.8),
            ]
        );
        // Longest match first: "renal failure" wins over the "failure" inside it.
        let t = "renal failure";
        let ms = refine(t, vec![], &opts).unwrap();
        assert_eq!(ms.len(), 1);
        assert_eq!((ms[0].start, ms[0].end), (0, 13));
    }

    #[test]
    fn exclusions_are_forms_seldom_annotated_on_their_own() {
        use EntityType::*;
        let docs = vec![
            doc(
                "1",
                "Venous thromboembolism after venous access. Venous pressure rose; thromboembolism again.",
                &[("Venous thromboembolism", Disease)],
            ),
            doc(
                "2",
                "Thromboembolism was seen.",
                &[("Thromboembolism", Disease)],
            ),
        ];
        let x = |form: &str, share| Exclusion {
            form: form.into(),
            share,
        };
        // Occurrences inside the longer annotation are not free: venous 0 of 2, thromboembolism 1 of 2, the whole
        // name 1 of 1.
        assert_eq!(
            build_exclusions(&docs, 2, 0.1).unwrap(),
            vec![x("venous", 0.0)]
        );
        assert_eq!(
            build_exclusions(&docs, 2, 0.6).unwrap(),
            vec![x("thromboembolism", 0.5), x("venous", 0.0)]
        );
        assert!(build_exclusions(&docs, 3, 1.0).unwrap().is_empty());
        assert!(build_exclusions(&[], 1, 1.0).unwrap().is_empty());
    }

    #[test]
    fn exclusions_drop_whole_mentions_before_abbreviations_are_read() {
        let excluding = |abbreviations| Refine {
            abbreviations,
            exclusions: vec![
                Exclusion {
                    form: "cp".into(),
                    share: 0.0,
                },
                Exclusion {
                    form: "venous".into(),
                    share: 0.0,
                },
            ],
            ..Refine::default()
        };
        let t = "Venous and venous thrombosis.";
        let given = vec![
            m(t, 0, 6, EntityType::Disease),
            m(t, 11, 28, EntityType::Disease),
        ];
        let ms = refine(t, given, &excluding(false)).unwrap();
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].text, "venous thrombosis");
        // A short form this document defines is kept, whatever it means in the training texts.
        let t = "cyclophosphamide (CP) was given; CP caused cystitis.";
        let given = vec![
            m(t, 0, 16, EntityType::Drug),
            m(t, 33, 35, EntityType::Drug),
        ];
        assert_eq!(
            refine(t, given.clone(), &excluding(false)).unwrap().len(),
            1
        );
        let ms = refine(t, given, &excluding(true)).unwrap();
        let cp: Vec<usize> = ms
            .iter()
            .filter(|m| m.text == "CP")
            .map(|m| m.start)
            .collect();
        assert_eq!(cp, vec![18, 33]);
    }

    #[test]
    fn empty_and_degenerate_texts() {
        assert!(abbreviations("").is_empty());
        assert!(abbreviations("(").is_empty());
        assert!(abbreviations("(AB)").is_empty());
        assert!(abbreviations("x (").is_empty());
        assert!(refine("", vec![], &Refine::ALL).unwrap().is_empty());
    }

    /// Seeded random punctuation-heavy texts and mentions: refinement never panics, and every mention it returns is
    /// a non-empty char range of the text whose `text` is exactly that range.
    /// A boundary model that moves mentions onto spans starting with "cs5" or "ab" (annotated in its counts), keeping
    /// "t cs5" whole.
    fn fuzz_boundaries() -> BoundaryModel {
        use crate::ner::boundary::{keep_forms, CorpusCounts, Node, Tree};
        use crate::ner::schema::Entity;
        let ent = |text: &str, start: usize, t| Entity {
            id: String::new(),
            text: text.into(),
            entity_type: t,
            start,
            end: start + text.len(),
        };
        let doc = Document {
            id: String::new(),
            text: "T Cs5 and ab (ab)".into(),
            entities: vec![
                ent("Cs5", 2, EntityType::Drug),
                ent("ab", 10, EntityType::Disease),
            ],
            relations: vec![],
        };
        BoundaryModel {
            base_score: 0.0,
            margin: 0.1,
            counts: CorpusCounts::sum(&CorpusCounts::per_document(&[doc])),
            trees: vec![Tree(vec![
                Node::Split(6, 1e-9, 1, 2),
                Node::Leaf(-4.0),
                Node::Leaf(4.0),
            ])],
            keep: keep_forms(["T Cs5"]),
        }
    }

    #[test]
    fn random_texts_keep_offsets_exact() {
        use rand::{Rng, SeedableRng};
        let alphabet: Vec<char> = "ab T Cs5 (),;:-/[]{}é ".chars().collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let opts = Refine {
            min_score: 0.3,
            exclusions: vec![Exclusion {
                form: "ab".into(),
                share: 0.0,
            }],
            lexicon: vec![LexiconEntry {
                form: "cs5".into(),
                entity_type: EntityType::Drug,
                precision: 0.9,
            }],
            boundaries: Some(fuzz_boundaries()),
            ..Refine::ALL
        };
        let refiner = Refiner::new(&opts).unwrap();
        let without_boundaries = Refiner::new(&Refine {
            boundaries: None,
            ..opts.clone()
        })
        .unwrap();
        let mut moved = 0;
        for _ in 0..3000 {
            let n = rng.random_range(0..40);
            let t: String = (0..n)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let mut given = Vec::new();
            for _ in 0..rng.random_range(0..6) {
                if n < 1 {
                    break;
                }
                let s = rng.random_range(0..n);
                let e = rng.random_range(s + 1..=n);
                let mut x = m(
                    &t,
                    s,
                    e,
                    [EntityType::Drug, EntityType::Disease][rng.random_range(0..2)],
                );
                x.score = rng.random_range(0.0..1.0);
                given.push(x);
            }
            let out = refiner.apply(&t, given.clone());
            if out != without_boundaries.apply(&t, given) {
                moved += 1;
            }
            for x in out {
                assert!(x.start < x.end && x.end <= n, "{t:?}: {x:?}");
                assert_eq!(
                    Some(x.text.as_str()),
                    crate::ner::schema::char_slice(&t, x.start, x.end),
                    "{t:?}"
                );
            }
        }
        // The boundary step did run on some of them.
        assert!(moved > 10, "boundaries changed {moved} texts");
    }
}
