//! Token classification around the NER model: BIO labels for word pieces, windows over long texts and decoding
//! of predicted labels back to **char** spans of the original text.
//!
//! * **Alignment** ([`label_pieces`]): a piece belongs to an entity when its char range overlaps the entity's; the
//!   first such piece is `B-T`, the rest `I-T`. Entities are taken by start, longer first; an entity whose pieces
//!   are already taken by an earlier one (nested/overlapping mentions) or that covers no piece is dropped and
//!   counted. Special tokens get [`IGNORE`] (−100), which the loss skips.
//! * **Windows** ([`windows`]): a text of `n` pieces is cut into windows of at most `content = max_len − frame`
//!   pieces (`frame` = the `[CLS]`/`[SEP]` tokens), consecutive windows sharing `stride` pieces; the last window
//!   is aligned to the end of the text, so every window but a lone one is full. Each window is framed by the special
//!   tokens and run on its own.
//! * **Merging** ([`merge_windows`]): a piece covered by several windows takes the prediction of the window in
//!   which it is farthest from an edge (ties: the earlier window).
//! * **Decoding** ([`decode`]): one label per word (its first piece), chosen as the config's [`Decoding`] says —
//!   the most probable BIO sequence (`viterbi`: an `I-T` only after `B-T` or `I-T`) or the arg-max label of each word
//!   (`greedy`, where a stray `I-T` starts an entity). `B-T` starts an entity, `I-T` continues it, `O` ends it. The
//!   span runs from the first piece's start to the last piece's end; the score is the mean over its words of their
//!   probability of being in an entity of its type (`B-T` + `I-T`; greedy: of the chosen label).
//! * **Refinement**: the decoded mentions of each whole text then go through [`crate::ner::refine`] as the
//!   config's [`crate::ner::refine::Refine`] says (confidence, abbreviation definitions, adjacent fragments, lexicon).
//!
//! [`extract`] runs the whole path over many texts with any model given as a closure (ONNX Runtime in the
//! extension, tch while training, a test double in the tests).

use std::collections::BTreeMap;
use std::ops::Range;

use ndarray::{Array2, Array3, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::ner::model::NerConfig;
use crate::ner::refine::Refiner;
use crate::ner::schema::{CharIndex, Document, Entity, EntityType};
use crate::text::{Pieces, TextTokenizer};
use crate::{CragError, Result};

/// Label of positions the loss ignores (special tokens, padding).
pub const IGNORE: i64 = -100;

/// One BIO tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tag {
    /// Outside any entity.
    Outside,
    /// First piece of an entity.
    Begin(EntityType),
    /// Later piece of an entity.
    Inside(EntityType),
}

/// The label list of a model, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagSet {
    tags: Vec<Tag>,
}

impl TagSet {
    /// Parse labels (`O`, `B-Drug`, `I-Drug`, ...): exactly one `O`, no duplicates, and `B-T` and `I-T` both present
    /// for every type used.
    pub fn new(labels: &[String]) -> Result<Self> {
        let bad = |m: String| CragError::CorruptModel(format!("NER labels: {m}"));
        let mut tags = Vec::with_capacity(labels.len());
        for l in labels {
            let tag = if l == "O" {
                Tag::Outside
            } else if let Some(t) = l.strip_prefix("B-") {
                Tag::Begin(
                    t.parse()
                        .map_err(|_| bad(format!("unknown type in {l:?}")))?,
                )
            } else if let Some(t) = l.strip_prefix("I-") {
                Tag::Inside(
                    t.parse()
                        .map_err(|_| bad(format!("unknown type in {l:?}")))?,
                )
            } else {
                return Err(bad(format!("{l:?} is not O, B-TYPE or I-TYPE")));
            };
            if tags.contains(&tag) {
                return Err(bad(format!("duplicate label {l:?}")));
            }
            tags.push(tag);
        }
        if !tags.contains(&Tag::Outside) {
            return Err(bad("no \"O\" label".into()));
        }
        for t in &tags {
            let (Tag::Begin(x) | Tag::Inside(x)) = t else {
                continue;
            };
            if !tags.contains(&Tag::Begin(*x)) || !tags.contains(&Tag::Inside(*x)) {
                return Err(bad(format!("type {x} needs both B-{x} and I-{x}")));
            }
        }
        Ok(TagSet { tags })
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// True when there are no labels (never, after [`Self::new`]).
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The tag of label index `i`.
    pub fn tag(&self, i: usize) -> Tag {
        self.tags.get(i).copied().unwrap_or(Tag::Outside)
    }

    /// Label index of a tag.
    pub fn index(&self, tag: Tag) -> Option<usize> {
        self.tags.iter().position(|&t| t == tag)
    }

    /// Entity types with labels.
    pub fn types(&self) -> Vec<EntityType> {
        let mut v: Vec<EntityType> = self
            .tags
            .iter()
            .filter_map(|t| match t {
                Tag::Begin(x) => Some(*x),
                _ => None,
            })
            .collect();
        v.dedup();
        v
    }
}

/// A gold mention to label: char offsets `[start, end)` and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First char.
    pub start: usize,
    /// One past the last char.
    pub end: usize,
    /// Entity type.
    pub entity_type: EntityType,
}

/// Per-piece label indices for gold spans (see the module notes); returns the labels and the number of spans
/// dropped (no piece, type without labels, or pieces already taken by an earlier span).
pub fn label_pieces(
    offsets: &[(usize, usize)],
    spans: &[Span],
    tags: &TagSet,
) -> (Vec<i64>, usize) {
    let o = tags.index(Tag::Outside).unwrap_or(0) as i64;
    let mut labels = vec![o; offsets.len()];
    let mut taken = vec![false; offsets.len()];
    let mut order: Vec<&Span> = spans.iter().collect();
    order.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut dropped = 0;
    for s in order {
        let (Some(b), Some(i)) = (
            tags.index(Tag::Begin(s.entity_type)),
            tags.index(Tag::Inside(s.entity_type)),
        ) else {
            dropped += 1;
            continue;
        };
        let covered: Vec<usize> = (0..offsets.len())
            .filter(|&k| offsets[k].0 < s.end && offsets[k].1 > s.start)
            .collect();
        if covered.is_empty() || covered.iter().any(|&k| taken[k]) {
            dropped += 1;
            continue;
        }
        for (j, &k) in covered.iter().enumerate() {
            labels[k] = if j == 0 { b as i64 } else { i as i64 };
            taken[k] = true;
        }
    }
    (labels, dropped)
}

/// Windows over `n` pieces with at most `content` pieces each, consecutive windows sharing `stride` pieces
/// (`stride < content`); the last window ends at `n`. No windows for `n = 0`.
pub fn windows(n: usize, content: usize, stride: usize) -> Vec<Range<usize>> {
    let content = content.max(1);
    if n == 0 {
        return vec![];
    }
    if n <= content {
        return std::iter::once(0..n).collect();
    }
    let step = content.saturating_sub(stride).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start + content < n {
        out.push(start..start + content);
        start += step;
    }
    out.push(n - content..n);
    out
}

/// For each of `n` pieces, the window (index into `ws`) whose prediction it takes: the one in which the piece is
/// farthest from an edge, the earlier on ties.
pub fn window_choice(n: usize, ws: &[Range<usize>]) -> Vec<usize> {
    let mut best: Vec<(usize, Option<usize>)> = vec![(0, None); n];
    for (wi, w) in ws.iter().enumerate() {
        for i in w.clone().filter(|&i| i < n) {
            let d = (i - w.start).min(w.end - 1 - i);
            if best[i].1.is_none() || d > best[i].0 {
                best[i] = (d, Some(wi));
            }
        }
    }
    best.into_iter().map(|(_, w)| w.unwrap_or(0)).collect()
}

/// Merge per-window probabilities (`probs[w]` is `[ws[w].len(), n_labels]`) into `[n, n_labels]` with
/// [`window_choice`].
pub fn merge_windows(n: usize, ws: &[Range<usize>], probs: &[Array2<f32>]) -> Result<Array2<f32>> {
    if ws.len() != probs.len() {
        return Err(CragError::invalid(format!(
            "{} windows but {} probability blocks",
            ws.len(),
            probs.len()
        )));
    }
    let k = probs.first().map_or(0, |p| p.ncols());
    for (w, p) in ws.iter().zip(probs) {
        if p.nrows() != w.len() || p.ncols() != k {
            return Err(CragError::invalid(format!(
                "window {}..{} has a [{}, {}] probability block",
                w.start,
                w.end,
                p.nrows(),
                p.ncols()
            )));
        }
    }
    let choice = window_choice(n, ws);
    let mut out = Array2::<f32>::zeros((n, k));
    for (i, &wi) in choice.iter().enumerate() {
        if let Some(w) = ws.get(wi) {
            out.row_mut(i).assign(&probs[wi].row(i - w.start));
        }
    }
    Ok(out)
}

/// Row-wise soft-max.
pub fn softmax_rows(logits: ArrayView2<f32>) -> Array2<f32> {
    let mut p = logits.to_owned();
    for mut row in p.rows_mut() {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.mapv_inplace(|v| (v - m).exp());
        let z = row.sum();
        row.mapv_inplace(|v| v / z);
    }
    p
}

/// One extracted entity: char offsets into the text (0-based start, end exclusive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    /// First char.
    pub start: usize,
    /// One past the last char.
    pub end: usize,
    /// The mention, `text.chars().skip(start).take(end - start)`.
    pub text: String,
    /// Entity type.
    pub entity_type: EntityType,
    /// Mean over its words of their probability of being in an entity of this type (`B-T` + `I-T`) with Viterbi
    /// decoding, of their chosen label's probability with greedy decoding.
    pub score: f64,
}

/// How the labels of a text's words are chosen from their probabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decoding {
    /// The arg-max label of each word on its own; a stray `I-T` starts an entity. Models published before
    /// [`Decoding::Viterbi`] existed are served this way.
    #[default]
    Greedy,
    /// The most probable label sequence of the text (sum of log-probabilities) among valid BIO sequences: `I-T`
    /// only after `B-T` or `I-T`.
    Viterbi,
}

/// For each word (index into `probs`' rows), its label: the most probable valid BIO sequence.
fn viterbi(probs: ArrayView2<f32>, words: &[usize], tags: &TagSet) -> Vec<usize> {
    let n_labels = tags.len();
    let can_follow = |prev: Option<usize>, next: usize| match tags.tag(next) {
        Tag::Inside(t) => {
            prev.is_some_and(|p| matches!(tags.tag(p), Tag::Begin(u) | Tag::Inside(u) if u == t))
        }
        _ => true,
    };
    let mut best = vec![f64::NEG_INFINITY; n_labels];
    let mut back: Vec<Vec<usize>> = Vec::with_capacity(words.len());
    for (w, &row) in words.iter().enumerate() {
        let log_p: Vec<f64> = probs
            .row(row)
            .iter()
            .map(|&p| f64::from(p.max(1e-12)).ln())
            .collect();
        let mut next = vec![f64::NEG_INFINITY; n_labels];
        let mut from = vec![0; n_labels];
        for (j, slot) in next.iter_mut().enumerate() {
            if w == 0 {
                if can_follow(None, j) {
                    *slot = log_p[j];
                }
                continue;
            }
            for (i, &b) in best.iter().enumerate() {
                if b > f64::NEG_INFINITY && can_follow(Some(i), j) && b + log_p[j] > *slot {
                    *slot = b + log_p[j];
                    from[j] = i;
                }
            }
        }
        back.push(from);
        best = next;
    }
    let mut labels = vec![0; words.len()];
    let Some(mut j) = (0..n_labels).reduce(|a, b| if best[b] > best[a] { b } else { a }) else {
        return labels;
    };
    for w in (0..words.len()).rev() {
        labels[w] = j;
        j = back[w][j];
    }
    labels
}

/// Decode per-piece probabilities `[n, n_labels]` of `text`'s pieces (char `offsets`) into mentions.
///
/// Decoding is word-level, as training labels are (first piece B, the rest I): a piece that continues a word (it
/// starts where the previous piece ends, between two alphanumeric chars, e.g. `##itis`) takes no decision of its own —
/// it extends the open mention, if any — so a mention never starts or stops inside a word.
pub fn decode(
    text: &str,
    offsets: &[(usize, usize)],
    probs: ArrayView2<f32>,
    tags: &TagSet,
    decoding: Decoding,
) -> Vec<Mention> {
    let idx = CharIndex::new(text);
    let mut out = Vec::new();
    // (type, start, end, sum of probabilities, pieces)
    let mut cur: Option<(EntityType, usize, usize, f64, usize)> = None;
    let finish = |c: Option<(EntityType, usize, usize, f64, usize)>, out: &mut Vec<Mention>| {
        if let Some((t, s, e, sum, n)) = c {
            out.push(Mention {
                start: s,
                end: e,
                text: idx.slice(text, s, e).unwrap_or_default().to_string(),
                entity_type: t,
                score: sum / n.max(1) as f64,
            });
        }
    };
    let chars: Vec<char> = text.chars().collect();
    let alnum = |i: usize| chars.get(i).is_some_and(|c| c.is_alphanumeric());
    let word_starts: Vec<usize> = (0..offsets.len())
        .filter(|&k| {
            let s = offsets[k].0;
            !(k > 0 && offsets[k - 1].1 == s && s > 0 && alnum(s - 1) && alnum(s))
        })
        .collect();
    let labels: Vec<usize> = match decoding {
        Decoding::Greedy => word_starts
            .iter()
            .map(|&k| {
                probs
                    .row(k)
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |a, (i, &v)| if v > a.1 { (i, v) } else { a },
                    )
                    .0
            })
            .collect(),
        Decoding::Viterbi => viterbi(probs, &word_starts, tags),
    };
    let mut next_word = word_starts.iter().zip(&labels).peekable();
    for (k, &(s, e)) in offsets.iter().enumerate() {
        let Some((_, &best)) = next_word.next_if(|(&w, _)| w == k) else {
            // A piece continuing a word.
            if let Some(c) = cur.as_mut() {
                c.2 = e;
            }
            continue;
        };
        // Viterbi: the word's probability of being in an entity of the type (B-T + I-T), which does not depend on
        // whether the model hesitated between B and I; greedy: the chosen label's, as before Viterbi existed.
        let p = match (decoding, tags.tag(best)) {
            (Decoding::Viterbi, Tag::Begin(t) | Tag::Inside(t)) => [Tag::Begin(t), Tag::Inside(t)]
                .iter()
                .filter_map(|&x| tags.index(x))
                .map(|i| f64::from(probs[[k, i]]))
                .sum(),
            _ => f64::from(probs[[k, best]]),
        };
        match tags.tag(best) {
            Tag::Outside => finish(cur.take(), &mut out),
            Tag::Begin(t) => {
                finish(cur.take(), &mut out);
                cur = Some((t, s, e, p, 1));
            }
            Tag::Inside(t) => match cur.as_mut() {
                Some(c) if c.0 == t => {
                    c.2 = e;
                    c.3 += p;
                    c.4 += 1;
                }
                _ => {
                    finish(cur.take(), &mut out);
                    cur = Some((t, s, e, p, 1));
                }
            },
        }
    }
    finish(cur.take(), &mut out);
    out
}

/// A framed window of pieces with its labels, ready for training.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledWindow {
    /// Token ids, special tokens included.
    pub ids: Vec<i64>,
    /// Label index per token; [`IGNORE`] on special tokens.
    pub labels: Vec<i64>,
}

/// The windowing of one text with a tokenizer and config.
#[derive(Debug, Clone)]
pub struct Windowed {
    /// Pieces of the text with char offsets.
    pub pieces: Pieces,
    /// Windows over the pieces.
    pub windows: Vec<Range<usize>>,
}

/// Ids before and after each window, and the pieces a window holds.
#[derive(Debug, Clone)]
pub struct Framing {
    prefix: Vec<i64>,
    suffix: Vec<i64>,
    content: usize,
    stride: usize,
}

impl Framing {
    /// From the tokenizer's special tokens and the config's `max_len` and `stride`.
    pub fn new(tok: &TextTokenizer, cfg: &NerConfig) -> Result<Self> {
        let (p, s) = tok.special_frame()?;
        let frame = p.len() + s.len();
        if cfg.max_len <= frame + cfg.stride {
            return Err(CragError::invalid(format!(
                "max_len {} leaves no room beside {frame} special tokens and stride {}",
                cfg.max_len, cfg.stride
            )));
        }
        Ok(Framing {
            prefix: p.into_iter().map(i64::from).collect(),
            suffix: s.into_iter().map(i64::from).collect(),
            content: cfg.max_len - frame,
            stride: cfg.stride,
        })
    }

    /// Pieces per window.
    pub fn content(&self) -> usize {
        self.content
    }

    /// Tokenize and window a text.
    pub fn window(&self, tok: &TextTokenizer, text: &str) -> Result<Windowed> {
        let pieces = tok.encode_pieces(text)?;
        let windows = windows(pieces.len(), self.content, self.stride);
        Ok(Windowed { pieces, windows })
    }

    /// The framed ids of window `w` of `pieces`.
    pub fn ids(&self, pieces: &Pieces, w: &Range<usize>) -> Vec<i64> {
        let mut ids = self.prefix.clone();
        ids.extend(pieces.ids[w.clone()].iter().map(|&i| i64::from(i)));
        ids.extend_from_slice(&self.suffix);
        ids
    }

    /// Tokens before the pieces in a framed window.
    pub fn offset(&self) -> usize {
        self.prefix.len()
    }

    /// Labeled training windows of a text and its gold spans; also returns the number of dropped spans.
    pub fn labeled(
        &self,
        tok: &TextTokenizer,
        text: &str,
        spans: &[Span],
        tags: &TagSet,
    ) -> Result<(Vec<LabeledWindow>, usize)> {
        let wd = self.window(tok, text)?;
        let (labels, dropped) = label_pieces(&wd.pieces.offsets, spans, tags);
        let out = wd
            .windows
            .iter()
            .map(|w| {
                let mut l = vec![IGNORE; self.prefix.len()];
                l.extend_from_slice(&labels[w.clone()]);
                l.extend(std::iter::repeat_n(IGNORE, self.suffix.len()));
                LabeledWindow {
                    ids: self.ids(&wd.pieces, w),
                    labels: l,
                }
            })
            .collect();
        Ok((out, dropped))
    }
}

/// Extract entities from every text. `run(ids, mask, batch, seq)` gets row-major `[batch, seq]` padded windows
/// (up to `batch` per call, similar lengths together) and returns logits `[batch, seq, n_labels]`. A text without
/// pieces (blank) gives no mentions. The mentions are refined as `cfg.refine` says.
pub fn extract<F>(
    tok: &TextTokenizer,
    cfg: &NerConfig,
    texts: &[&str],
    batch: usize,
    run: F,
) -> Result<Vec<Vec<Mention>>>
where
    F: FnMut(&[i64], &[i64], usize, usize) -> Result<Array3<f32>>,
{
    extract_with(tok, cfg, &Refiner::new(&cfg.refine)?, texts, batch, run)
}

/// [`extract`] with an already compiled refinement (callers that extract again and again keep one).
pub fn extract_with<F>(
    tok: &TextTokenizer,
    cfg: &NerConfig,
    refiner: &Refiner,
    texts: &[&str],
    batch: usize,
    mut run: F,
) -> Result<Vec<Vec<Mention>>>
where
    F: FnMut(&[i64], &[i64], usize, usize) -> Result<Array3<f32>>,
{
    let tags = TagSet::new(&cfg.labels)?;
    let framing = Framing::new(tok, cfg)?;
    let docs = texts
        .iter()
        .map(|t| framing.window(tok, t))
        .collect::<Result<Vec<_>>>()?;
    // (text, window) jobs, shortest first.
    let mut jobs: Vec<(usize, usize)> = docs
        .iter()
        .enumerate()
        .flat_map(|(d, wd)| (0..wd.windows.len()).map(move |w| (d, w)))
        .collect();
    jobs.sort_by_key(|&(d, w)| docs[d].windows[w].len());
    let mut probs: BTreeMap<(usize, usize), Array2<f32>> = BTreeMap::new();
    let pad = i64::from(tok.pad_id());
    let off = framing.offset();
    for chunk in jobs.chunks(batch.max(1)) {
        let rows: Vec<Vec<i64>> = chunk
            .iter()
            .map(|&(d, w)| framing.ids(&docs[d].pieces, &docs[d].windows[w]))
            .collect();
        let l = rows.iter().map(Vec::len).max().unwrap_or(1);
        let mut ids = Vec::with_capacity(rows.len() * l);
        let mut mask = Vec::with_capacity(rows.len() * l);
        for r in &rows {
            ids.extend_from_slice(r);
            ids.extend(std::iter::repeat_n(pad, l - r.len()));
            mask.extend(std::iter::repeat_n(1i64, r.len()));
            mask.extend(std::iter::repeat_n(0i64, l - r.len()));
        }
        let logits = run(&ids, &mask, rows.len(), l)?;
        if logits.shape() != [rows.len(), l, tags.len()] {
            return Err(CragError::CorruptModel(format!(
                "NER model returned logits of shape {:?}, expected [{}, {l}, {}]",
                logits.shape(),
                rows.len(),
                tags.len()
            )));
        }
        for (r, &(d, w)) in chunk.iter().enumerate() {
            let len = docs[d].windows[w].len();
            let block = logits.slice(ndarray::s![r, off..off + len, ..]);
            probs.insert((d, w), softmax_rows(block));
        }
    }
    let mut out = Vec::with_capacity(texts.len());
    for (d, wd) in docs.iter().enumerate() {
        let blocks: Vec<Array2<f32>> = (0..wd.windows.len())
            .map(|w| probs.remove(&(d, w)).unwrap_or_default())
            .collect();
        let merged = merge_windows(wd.pieces.len(), &wd.windows, &blocks)?;
        let mentions = decode(
            texts[d],
            &wd.pieces.offsets,
            merged.view(),
            &tags,
            cfg.decoding,
        );
        out.push(refiner.apply(texts[d], mentions));
    }
    Ok(out)
}

/// A document of predicted mentions (for [`crate::ner::evaluate`]).
pub fn to_document(id: &str, text: &str, mentions: &[Mention]) -> Document {
    Document {
        id: id.to_string(),
        text: text.to_string(),
        entities: mentions
            .iter()
            .enumerate()
            .map(|(i, m)| Entity {
                id: format!("T{}", i + 1),
                text: m.text.clone(),
                entity_type: m.entity_type,
                start: m.start,
                end: m.end,
            })
            .collect(),
        relations: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bert::BertConfig;
    use crate::ner::model::bio_labels;
    use crate::ner::refine::Refine;
    use std::collections::HashMap;

    fn tags() -> TagSet {
        TagSet::new(&bio_labels(&EntityType::ALL)).unwrap()
    }

    fn minilm() -> TextTokenizer {
        let dir = std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into());
        TextTokenizer::from_file_plain(std::path::Path::new(&dir).join("tokenizer.json"), 128)
            .expect("MiniLM tokenizer (scripts/setup-minilm.sh)")
    }

    fn cfg(max_len: usize, stride: usize) -> NerConfig {
        NerConfig {
            stride,
            ..NerConfig::new(
                BertConfig {
                    vocab_size: 30522,
                    ..BertConfig::minilm_l6()
                },
                max_len,
            )
        }
    }

    fn one_hot(ts: &TagSet, seq: &[Tag], p: f32) -> Array2<f32> {
        let mut a =
            Array2::<f32>::from_elem((seq.len(), ts.len()), (1.0 - p) / (ts.len() - 1) as f32);
        for (k, t) in seq.iter().enumerate() {
            a[[k, ts.index(*t).unwrap()]] = p;
        }
        a
    }

    #[test]
    fn tagset_parses_and_rejects() {
        let ts = tags();
        assert_eq!(ts.len(), 11);
        assert_eq!(ts.tag(0), Tag::Outside);
        assert_eq!(ts.index(Tag::Begin(EntityType::Drug)), Some(5));
        assert_eq!(ts.types().len(), 5);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(TagSet::new(&s(&["O", "B-Drug"])).is_err());
        assert!(TagSet::new(&s(&["B-Drug", "I-Drug"])).is_err());
        assert!(TagSet::new(&s(&["O", "O"])).is_err());
        assert!(TagSet::new(&s(&["O", "X-Drug"])).is_err());
        assert!(TagSet::new(&s(&["O", "B-Drug", "I-Drug"])).is_ok());
    }

    #[test]
    fn labels_first_piece_b_rest_i_and_drops_overlaps() {
        let ts = tags();
        // pieces: "ampicillin" = amp ##ici ##llin, "-", "induced", "rash"
        let offsets = [(0, 3), (3, 6), (6, 10), (10, 11), (11, 18), (19, 23)];
        let spans = [
            Span {
                start: 0,
                end: 10,
                entity_type: EntityType::Drug,
            },
            Span {
                start: 19,
                end: 23,
                entity_type: EntityType::Disease,
            },
            // Nested in the drug: dropped.
            Span {
                start: 3,
                end: 6,
                entity_type: EntityType::Disease,
            },
            // Between pieces: no piece, dropped.
            Span {
                start: 18,
                end: 19,
                entity_type: EntityType::Symptom,
            },
        ];
        let (l, dropped) = label_pieces(&offsets, &spans, &ts);
        let b = |t| ts.index(Tag::Begin(t)).unwrap() as i64;
        let i = |t| ts.index(Tag::Inside(t)).unwrap() as i64;
        assert_eq!(
            l,
            vec![
                b(EntityType::Drug),
                i(EntityType::Drug),
                i(EntityType::Drug),
                0,
                0,
                b(EntityType::Disease)
            ]
        );
        assert_eq!(dropped, 2);
        // A longer span starting at the same place wins over a shorter one.
        let spans = [
            Span {
                start: 0,
                end: 3,
                entity_type: EntityType::Symptom,
            },
            Span {
                start: 0,
                end: 10,
                entity_type: EntityType::Drug,
            },
        ];
        let (l, dropped) = label_pieces(&offsets, &spans, &ts);
        assert_eq!(l[0], b(EntityType::Drug));
        assert_eq!(dropped, 1);
    }

    #[test]
    fn windows_cover_everything_with_the_given_overlap() {
        assert!(windows(0, 5, 1).is_empty());
        assert_eq!(windows(3, 5, 1), vec![0..3]);
        assert_eq!(windows(5, 5, 1), vec![0..5]);
        assert_eq!(windows(12, 5, 2), vec![0..5, 3..8, 6..11, 7..12]);
        for n in 1..60 {
            for stride in 0..4 {
                let ws = windows(n, 6, stride);
                assert_eq!(ws[0].start, 0);
                assert_eq!(ws.last().unwrap().end, n);
                for w in &ws {
                    assert!(w.len() <= 6 && !w.is_empty());
                }
                for p in ws.windows(2) {
                    assert!(p[1].start <= p[0].end - stride.min(p[0].len()), "{ws:?}");
                    assert!(p[1].start > p[0].start);
                }
            }
        }
    }

    #[test]
    fn merge_keeps_the_window_where_a_piece_is_farthest_from_an_edge() {
        let ws = vec![0..10, 6..16];
        let c = window_choice(16, &ws);
        // piece 7: 2 from A's right edge (index 7 of 0..10 → min(7, 2) = 2), 1 from B's left edge → A.
        assert_eq!(c[7], 0);
        // piece 8: min(8, 1) = 1 in A, min(2, 7) = 2 in B → B.
        assert_eq!(c[8], 1);
        assert_eq!(c[9], 1);
        assert_eq!(c[6], 0);
        assert_eq!(c[0], 0);
        assert_eq!(c[15], 1);
        let a = Array2::<f32>::from_elem((10, 2), 0.0);
        let b = Array2::<f32>::from_elem((10, 2), 1.0);
        let m = merge_windows(16, &ws, &[a.clone(), b.clone()]).unwrap();
        assert_eq!(m[[7, 0]], 0.0);
        assert_eq!(m[[8, 0]], 1.0);
        assert!(merge_windows(16, &ws, &[a]).is_err());
    }

    #[test]
    fn decode_merges_b_i_and_starts_on_stray_i() {
        let ts = tags();
        use EntityType::*;
        let text = "aa bb cc dd ee ff gg";
        let offsets: Vec<(usize, usize)> = (0..7).map(|k| (3 * k, 3 * k + 2)).collect();
        let seq = [
            Tag::Outside,
            Tag::Inside(Drug),
            Tag::Inside(Drug),
            Tag::Outside,
            Tag::Begin(Disease),
            Tag::Inside(Drug),
            Tag::Begin(Drug),
        ];
        let mut p = one_hot(&ts, &seq, 0.9);
        p[[2, ts.index(Tag::Inside(Drug)).unwrap()]] = 0.7;
        let m = decode(text, &offsets, p.view(), &ts, Decoding::Greedy);
        let got: Vec<(usize, usize, &str, EntityType)> = m
            .iter()
            .map(|x| (x.start, x.end, x.text.as_str(), x.entity_type))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, 8, "bb cc", Drug),
                (12, 14, "ee", Disease),
                (15, 17, "ff", Drug),
                (18, 20, "gg", Drug),
            ]
        );
        assert!((m[0].score - 0.8).abs() < 1e-6);
        assert!((m[1].score - 0.9).abs() < 1e-6);
        // B followed by I of another type: two entities.
        let seq = [Tag::Begin(Drug), Tag::Inside(Symptom)];
        let m = decode(
            "aa bb",
            &offsets[..2],
            one_hot(&ts, &seq, 0.9).view(),
            &ts,
            Decoding::Greedy,
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].entity_type, Symptom);
    }

    #[test]
    fn decode_is_word_level_inside_split_words() {
        let ts = tags();
        use EntityType::*;
        for decoding in [Decoding::Greedy, Decoding::Viterbi] {
            // "nephritis risk": pieces neph|ritis (one word) and risk. The second piece's own tag never splits the
            // word.
            let text = "nephritis risk";
            let offsets = [(0, 4), (4, 9), (10, 14)];
            for second in [Tag::Outside, Tag::Begin(Disease), Tag::Begin(Drug)] {
                let p = one_hot(&ts, &[Tag::Begin(Disease), second, Tag::Outside], 0.9);
                let m = decode(text, &offsets, p.view(), &ts, decoding);
                assert_eq!(m.len(), 1, "{second:?} {decoding:?}");
                assert_eq!(
                    (m[0].start, m[0].end, m[0].text.as_str()),
                    (0, 9, "nephritis")
                );
                assert_eq!(m[0].entity_type, Disease);
                // B-Disease 0.9; I-Disease 0.01 counts too for Viterbi.
                let want = if decoding == Decoding::Viterbi {
                    0.91
                } else {
                    0.9
                };
                assert!((m[0].score - want).abs() < 1e-6, "{decoding:?}");
            }
            // A word whose first piece is O stays outside even if a later piece says B.
            let p = one_hot(&ts, &[Tag::Outside, Tag::Begin(Disease), Tag::Outside], 0.9);
            assert!(decode(text, &offsets, p.view(), &ts, decoding).is_empty());
            // Punctuation between pieces is not a word continuation: "lithium-induced" keeps "lithium" alone.
            let text = "lithium-induced";
            let offsets = [(0, 7), (7, 8), (8, 15)];
            let p = one_hot(&ts, &[Tag::Begin(Drug), Tag::Outside, Tag::Outside], 0.9);
            let m = decode(text, &offsets, p.view(), &ts, decoding);
            assert_eq!((m.len(), m[0].start, m[0].end), (1, 0, 7));
            assert!(decode("", &[], Array2::zeros((0, ts.len())).view(), &ts, decoding).is_empty());
        }
    }

    /// Rows of probabilities: the listed tags get their probability, the rest share what is left.
    fn rows(ts: &TagSet, words: &[&[(Tag, f32)]]) -> Array2<f32> {
        let mut a = Array2::<f32>::zeros((words.len(), ts.len()));
        for (k, w) in words.iter().enumerate() {
            let rest = (1.0 - w.iter().map(|x| x.1).sum::<f32>()) / (ts.len() - w.len()) as f32;
            a.row_mut(k).fill(rest);
            for (t, p) in w.iter() {
                a[[k, ts.index(*t).unwrap()]] = *p;
            }
        }
        a
    }

    #[test]
    fn viterbi_chooses_the_best_valid_bio_sequence() {
        let ts = tags();
        use EntityType::*;
        let text = "aa bb cc";
        let offsets = [(0, 2), (3, 5), (6, 8)];
        let spans = |m: &[Mention]| -> Vec<(usize, usize, EntityType)> {
            m.iter().map(|x| (x.start, x.end, x.entity_type)).collect()
        };
        // A stray I after O: greedy starts an entity with it; Viterbi cannot take I there and takes the B.
        let p = rows(
            &ts,
            &[
                &[(Tag::Outside, 0.9)],
                &[
                    (Tag::Inside(Drug), 0.5),
                    (Tag::Begin(Drug), 0.4),
                    (Tag::Outside, 0.09),
                ],
                &[(Tag::Outside, 0.9)],
            ],
        );
        let greedy = decode(text, &offsets, p.view(), &ts, Decoding::Greedy);
        let best = decode(text, &offsets, p.view(), &ts, Decoding::Viterbi);
        assert_eq!(spans(&greedy), vec![(3, 5, Drug)]);
        assert_eq!(spans(&best), vec![(3, 5, Drug)]);
        assert!((greedy[0].score - 0.5).abs() < 1e-6, "the chosen label's");
        assert!((best[0].score - 0.9).abs() < 1e-6, "B-Drug + I-Drug");
        // The sequence decides the type: B-Disease (0.45) then I-Drug (0.9) is two entities for greedy, one Drug
        // entity for Viterbi (0.4 · 0.9 beats every sequence that keeps B-Disease).
        let p = rows(
            &ts,
            &[
                &[(Tag::Begin(Disease), 0.45), (Tag::Begin(Drug), 0.4)],
                &[(Tag::Inside(Drug), 0.9), (Tag::Outside, 0.05)],
                &[(Tag::Outside, 0.9)],
            ],
        );
        let greedy = decode(text, &offsets, p.view(), &ts, Decoding::Greedy);
        let best = decode(text, &offsets, p.view(), &ts, Decoding::Viterbi);
        assert_eq!(spans(&greedy), vec![(0, 2, Disease), (3, 5, Drug)]);
        assert_eq!(spans(&best), vec![(0, 5, Drug)]);
        // Word 1: B-Drug 0.4 + I-Drug (the 0.15 left, shared by 9 labels); word 2: I-Drug 0.9 + B-Drug (0.05 / 9).
        let want = ((0.4 + 0.15 / 9.0) + (0.9 + 0.05 / 9.0)) / 2.0;
        assert!((best[0].score - want).abs() < 1e-6, "{}", best[0].score);
        // When the arg-max sequence is valid BIO, both find the same mentions.
        let seq = [Tag::Begin(Symptom), Tag::Inside(Symptom), Tag::Begin(Drug)];
        let p = one_hot(&ts, &seq, 0.6);
        assert_eq!(
            spans(&decode(text, &offsets, p.view(), &ts, Decoding::Greedy)),
            spans(&decode(text, &offsets, p.view(), &ts, Decoding::Viterbi))
        );
        // A text that opens with I: Viterbi never starts with it (the other labels tie at 0.05; O, the first, wins).
        let p = one_hot(
            &ts,
            &[Tag::Inside(Disease), Tag::Outside, Tag::Outside],
            0.5,
        );
        assert_eq!(
            decode(text, &offsets, p.view(), &ts, Decoding::Greedy).len(),
            1
        );
        assert!(decode(text, &offsets, p.view(), &ts, Decoding::Viterbi).is_empty());
    }

    #[test]
    fn decoding_is_greedy_in_configs_that_do_not_say() {
        let d: Decoding = serde_json::from_str("\"viterbi\"").unwrap();
        assert_eq!(d, Decoding::Viterbi);
        assert_eq!(Decoding::default(), Decoding::Greedy);
        assert!(serde_json::from_str::<Decoding>("\"beam\"").is_err());
    }

    /// A "model" that tags by token id: `tag_of[id]`, everything else O, with confident logits.
    fn forced<'a>(
        ts: &'a TagSet,
        tag_of: &'a HashMap<i64, Tag>,
        calls: &'a mut Vec<usize>,
    ) -> impl FnMut(&[i64], &[i64], usize, usize) -> Result<Array3<f32>> + 'a {
        let ts = ts.clone();
        move |ids: &[i64], mask: &[i64], b: usize, l: usize| {
            calls.push(b);
            assert_eq!(ids.len(), b * l);
            assert_eq!(mask.len(), b * l);
            let mut out = Array3::<f32>::zeros((b, l, ts.len()));
            for r in 0..b {
                for t in 0..l {
                    let tag = tag_of.get(&ids[r * l + t]).copied().unwrap_or(Tag::Outside);
                    out[[r, t, ts.index(tag).unwrap()]] = 10.0;
                }
            }
            Ok(out)
        }
    }

    fn tag_table(
        tok: &TextTokenizer,
        ts: &TagSet,
        words: &[(&str, EntityType)],
    ) -> HashMap<i64, Tag> {
        let mut m = HashMap::new();
        for (w, t) in words {
            let p = tok.encode_pieces(w).unwrap();
            for (k, &id) in p.ids.iter().enumerate() {
                let tag = if k == 0 {
                    Tag::Begin(*t)
                } else {
                    Tag::Inside(*t)
                };
                let prev = m.insert(i64::from(id), tag);
                assert!(
                    prev.is_none() || prev == Some(tag),
                    "{w}: ambiguous piece {id}"
                );
            }
        }
        let _ = ts;
        m
    }

    #[test]
    fn windowed_extraction_of_a_20000_char_document_is_exact() {
        use EntityType::*;
        let tok = minilm();
        let ts = tags();
        let words = [
            ("aspirin", Drug),
            ("azithromycin", Drug),
            ("fever", Symptom),
            ("diabetes mellitus", Disease),
            ("colonoscopy", Procedure),
            ("hemoglobin", LabTest),
        ];
        let table = tag_table(&tok, &ts, &words);
        let fillers = [
            "the patient was seen in clinic today and reported that ",
            "on examination the résumé of her history (β-phase, 🙂) shows ",
            "he was told to come back in two weeks; meanwhile ",
        ];
        let mut text = String::new();
        let mut gold = Vec::new();
        let mut k = 0;
        while text.chars().count() < 20_000 {
            text.push_str(fillers[k % fillers.len()]);
            let (w, t) = words[(k * 7) % words.len()];
            let s = text.chars().count();
            text.push_str(w);
            gold.push((s, s + w.chars().count(), t));
            text.push_str(". ");
            k += 1;
        }
        assert!(text.chars().count() >= 20_000);
        for (max_len, stride) in [(128, 31), (32, 8), (16, 0)] {
            let cfg = cfg(max_len, stride);
            let mut calls = Vec::new();
            let out = extract(&tok, &cfg, &[&text], 8, forced(&ts, &table, &mut calls)).unwrap();
            let n_windows: usize = calls.iter().sum();
            assert!(
                n_windows > 20_000 / (4 * max_len),
                "{n_windows} windows for max_len {max_len}"
            );
            let got: Vec<(usize, usize, EntityType)> = out[0]
                .iter()
                .map(|m| (m.start, m.end, m.entity_type))
                .collect();
            assert_eq!(got.len(), gold.len(), "max_len {max_len}");
            assert_eq!(got, gold, "max_len {max_len}");
            for m in &out[0] {
                let s: String = text.chars().skip(m.start).take(m.end - m.start).collect();
                assert_eq!(s, m.text);
                assert!((m.score - 1.0).abs() < 1e-3);
            }
            // Entities in the first, middle and last part of the document.
            let last = gold.last().unwrap().0;
            assert!(got.iter().any(|g| g.0 < 200));
            assert!(got.iter().any(|g| g.0 > 9_000 && g.0 < 11_000));
            assert!(got.iter().any(|g| g.0 == last));
        }
    }

    #[test]
    fn refinement_reaches_across_windows() {
        use EntityType::*;
        let tok = minilm();
        let ts = tags();
        // The model knows the long form only; the definition is in the first window, the uses far beyond it.
        let table = tag_table(&tok, &ts, &[("overactive bladder", Disease)]);
        let mut text = String::from("Overactive bladder (OAB) was studied. ");
        while text.chars().count() < 3_000 {
            text.push_str("Patients were followed for a year without changes. ");
        }
        text.push_str("OAB improved, and OAB-related visits fell.");
        let run = |refine: Refine| {
            let c = NerConfig {
                refine,
                ..cfg(32, 8)
            };
            extract(&tok, &c, &[&text], 8, forced(&ts, &table, &mut vec![])).unwrap()
        };
        let plain = run(Refine::default());
        assert_eq!(plain[0].len(), 1);
        let refined = run(Refine::ALL);
        let got: Vec<(&str, EntityType)> = refined[0]
            .iter()
            .map(|m| (m.text.as_str(), m.entity_type))
            .collect();
        assert_eq!(got.len(), 4);
        assert!(got.iter().skip(1).all(|g| *g == ("OAB", Disease)));
        assert!(refined[0][3].start > 3_000);
    }

    #[test]
    fn unicode_offsets_are_char_offsets() {
        use EntityType::*;
        let tok = minilm();
        let ts = tags();
        let table = tag_table(
            &tok,
            &ts,
            &[
                ("ibuprofène", Drug),
                ("fièvre", Symptom),
                ("β-blocker", Drug),
            ],
        );
        let text = "Après 🤒 fièvre, puis ibuprofène et β-blocker. 😀 fin";
        let out = extract(
            &tok,
            &cfg(128, 31),
            &[text, "  ", "rien"],
            4,
            forced(&ts, &table, &mut vec![]),
        )
        .unwrap();
        assert!(out[1].is_empty() && out[2].is_empty());
        let got: Vec<(&str, EntityType)> = out[0]
            .iter()
            .map(|m| (m.text.as_str(), m.entity_type))
            .collect();
        assert_eq!(
            got,
            vec![
                ("fièvre", Symptom),
                ("ibuprofène", Drug),
                ("β-blocker", Drug)
            ]
        );
        for m in &out[0] {
            let s: String = text.chars().skip(m.start).take(m.end - m.start).collect();
            assert_eq!(s, m.text);
        }
        assert_eq!(out[0][0].start, 8, "char offset, not byte offset");
    }

    #[test]
    fn labeled_windows_frame_with_ignore_and_round_trip_through_decode() {
        use EntityType::*;
        let tok = minilm();
        let ts = tags();
        let cfg = cfg(16, 4);
        let framing = Framing::new(&tok, &cfg).unwrap();
        assert_eq!(framing.content(), 14);
        let text = "Ampicillin-induced rash in a child with fever and chest pain after amoxicillin, twice.";
        let spans = [
            Span {
                start: 0,
                end: 10,
                entity_type: Drug,
            },
            Span {
                start: 19,
                end: 23,
                entity_type: Disease,
            },
            Span {
                start: 40,
                end: 45,
                entity_type: Symptom,
            },
            Span {
                start: 50,
                end: 60,
                entity_type: Symptom,
            },
            Span {
                start: 67,
                end: 78,
                entity_type: Drug,
            },
        ];
        let (ws, dropped) = framing.labeled(&tok, text, &spans, &ts).unwrap();
        assert_eq!(dropped, 0);
        assert!(ws.len() >= 2);
        for w in &ws {
            assert_eq!(w.ids.len(), w.labels.len());
            assert!(w.ids.len() <= 16);
            assert_eq!(w.ids[0], 101);
            assert_eq!(*w.ids.last().unwrap(), 102);
            assert_eq!(w.labels[0], IGNORE);
            assert_eq!(*w.labels.last().unwrap(), IGNORE);
        }
        // A model that returns exactly the gold labels decodes to exactly the gold spans.
        let wd = framing.window(&tok, text).unwrap();
        let (labels, _) = label_pieces(&wd.pieces.offsets, &spans, &ts);
        let mut p = Array2::<f32>::zeros((labels.len(), ts.len()));
        for (k, &l) in labels.iter().enumerate() {
            p[[k, l as usize]] = 1.0;
        }
        let m = decode(text, &wd.pieces.offsets, p.view(), &ts, Decoding::Greedy);
        let got: Vec<(usize, usize, EntityType)> =
            m.iter().map(|x| (x.start, x.end, x.entity_type)).collect();
        let want: Vec<(usize, usize, EntityType)> = spans
            .iter()
            .map(|s| (s.start, s.end, s.entity_type))
            .collect();
        assert_eq!(got, want);
        let doc = to_document("d", text, &m);
        doc.validate().unwrap();
    }
}
