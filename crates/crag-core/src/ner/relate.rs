//! Relation extraction over entity mentions: sentences, candidate pairs, marked contexts and decoding.
//!
//! A candidate is an ordered pair (head, tail) of mentions whose types some relation of the model's
//! [`RelationHead`] allows ([`RelationType::allows`]), whose spans do not overlap, and which lie within
//! [`RelationHead::max_sentences`] consecutive sentences. Its context (those sentences) is rewritten with typed
//! punctuation markers — the "typed entity marker (punct)" of Zhou & Chen (2021), which needs no new vocabulary, so
//! the entity tagger's encoder and tokenizer serve unchanged:
//!
//! ```text
//! Asthma worsened after aspirin.
//!   → # ^ disease ^ Asthma # worsened after @ * drug * aspirin @.      (head = aspirin, tail = asthma)
//! ```
//!
//! The positions of the two opening markers (`@` for the head, `#` for the tail) are what the relation head reads
//! ([`crate::ner::model::io::PAIR_INDEX`]). Contexts longer than a window are cut to a window of pieces around the
//! pair; a pair that does not fit in one window is not classified. Decoding restricts the softmax to `none` and the
//! relation types the pair's types allow ([`type_mask`]) and reports a relation when its probability reaches
//! [`RelationHead::threshold`].

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::ner::model::{NerConfig, RelationHead};
use crate::ner::schema::{EntityType, RelationType};
use crate::ner::tagging::{Framing, Mention};
use crate::text::{Batch, TextTokenizer};
use crate::{CragError, Result};

/// Opening (and closing) marker of the head mention.
pub const HEAD_MARK: &str = "@";
/// Type delimiter inside the head marker.
pub const HEAD_TYPE_MARK: &str = "*";
/// Opening (and closing) marker of the tail mention.
pub const TAIL_MARK: &str = "#";
/// Type delimiter inside the tail marker.
pub const TAIL_TYPE_MARK: &str = "^";

/// Abbreviations after which a period does not end a sentence (compared lower-case, without the period).
const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "vs", "dr", "mr", "mrs", "ms", "fig", "figs", "al", "approx", "no", "i.v", "p.o",
    "i.m", "s.c", "ca", "cf", "resp", "mg", "ml", "b.i.d", "t.i.d", "q.d", "st", "inc", "ltd",
    "co", "jr", "sr",
];

/// Sentence spans of `text` as char offsets `[start, end)`, trimmed of surrounding whitespace, in order. A
/// sentence ends at a line break, or at `.`, `!` or `?` (plus closing quotes or brackets) followed by whitespace and
/// an upper-case letter, a digit or an opening bracket — unless the period closes an abbreviation (`e.g.`, `Dr.`,
/// `vs.`, a single letter such as `A.`). A text without such boundaries is one sentence.
pub fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let mut cuts = Vec::new(); // exclusive ends
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c == '\n' {
            cuts.push(i);
            i += 1;
            continue;
        }
        if matches!(c, '.' | '!' | '?') {
            let mut end = i + 1;
            while end < n && matches!(chars[end], '"' | '\'' | ')' | ']' | '”' | '’') {
                end += 1;
            }
            let mut next = end;
            while next < n && chars[next].is_whitespace() && chars[next] != '\n' {
                next += 1;
            }
            let spaced = next > end;
            let starts = next < n
                && (chars[next].is_uppercase()
                    || chars[next].is_ascii_digit()
                    || matches!(chars[next], '(' | '[' | '"' | '“'));
            if spaced && starts && !(c == '.' && abbreviation_before(&chars, i)) {
                cuts.push(end);
                i = end;
                continue;
            }
        }
        i += 1;
    }
    cuts.push(n);
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts {
        let (mut s, mut e) = (start, cut.min(n));
        while s < e && chars[s].is_whitespace() {
            s += 1;
        }
        while e > s && chars[e - 1].is_whitespace() {
            e -= 1;
        }
        if s < e {
            out.push((s, e));
        }
        start = cut;
    }
    out
}

/// Whether the period at `dot` ends an abbreviation: a single letter, or a word of [`ABBREVIATIONS`].
fn abbreviation_before(chars: &[char], dot: usize) -> bool {
    let mut s = dot;
    while s > 0 && (chars[s - 1].is_alphanumeric() || chars[s - 1] == '.') {
        s -= 1;
    }
    let word: String = chars[s..dot].iter().collect::<String>().to_lowercase();
    if word.is_empty() {
        return false;
    }
    (word.chars().count() == 1 && word.chars().all(char::is_alphabetic))
        || ABBREVIATIONS.contains(&word.as_str())
}

/// Index of the sentence containing char `pos` (the last one starting at or before it).
fn sentence_of(sentences: &[(usize, usize)], pos: usize) -> usize {
    sentences.iter().rposition(|&(s, _)| s <= pos).unwrap_or(0)
}

/// A candidate pair: indices into the mention list and the char span of its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Head mention index.
    pub head: usize,
    /// Tail mention index.
    pub tail: usize,
    /// Context `[start, end)` in chars of the text: the sentences from the first to the last of the two mentions.
    pub context: (usize, usize),
}

/// Whether some relation of `types` allows `head → tail`.
pub fn pair_allowed(types: &[RelationType], head: EntityType, tail: EntityType) -> bool {
    types.iter().any(|r| r.allows(head, tail))
}

/// Candidate pairs of `mentions` in `text` (see the module notes), in mention order.
pub fn candidates(text: &str, mentions: &[Mention], head: &RelationHead) -> Result<Vec<Candidate>> {
    let types = head.relation_types()?;
    let sentences = sentence_spans(text);
    if sentences.is_empty() {
        return Ok(vec![]);
    }
    let sent: Vec<(usize, usize)> = mentions
        .iter()
        .map(|m| {
            (
                sentence_of(&sentences, m.start),
                sentence_of(&sentences, m.end.saturating_sub(1).max(m.start)),
            )
        })
        .collect();
    let mut out = Vec::new();
    for (h, hm) in mentions.iter().enumerate() {
        for (t, tm) in mentions.iter().enumerate() {
            if h == t
                || (hm.start < tm.end && tm.start < hm.end)
                || !pair_allowed(&types, hm.entity_type, tm.entity_type)
            {
                continue;
            }
            let first = sent[h].0.min(sent[t].0);
            let last = sent[h].1.max(sent[t].1);
            if last - first + 1 > head.max_sentences {
                continue;
            }
            out.push(Candidate {
                head: h,
                tail: t,
                context: (sentences[first].0, sentences[last].1),
            });
        }
    }
    Ok(out)
}

fn type_word(t: EntityType) -> String {
    t.as_str().replace('_', " ").to_lowercase()
}

/// A context with both mentions marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkedContext {
    /// The marked text.
    pub text: String,
    /// Char offsets of the head's opening and closing [`HEAD_MARK`].
    pub head: (usize, usize),
    /// Char offsets of the tail's opening and closing [`TAIL_MARK`].
    pub tail: (usize, usize),
}

/// The context `[start, end)` (chars of `text`) of a candidate with both mentions marked.
pub fn marked_context(
    text: &str,
    head: &Mention,
    tail: &Mention,
    context: (usize, usize),
) -> Result<MarkedContext> {
    let chars: Vec<char> = text.chars().collect();
    let (c0, c1) = context;
    let inside = |m: &Mention| c0 <= m.start && m.start < m.end && m.end <= c1 && c1 <= chars.len();
    if !inside(head) || !inside(tail) {
        return Err(CragError::invalid(format!(
            "mentions {}..{} and {}..{} must lie inside the context {c0}..{c1}",
            head.start, head.end, tail.start, tail.end
        )));
    }
    if head.start < tail.end && tail.start < head.end {
        return Err(CragError::invalid(format!(
            "head {}..{} and tail {}..{} overlap",
            head.start, head.end, tail.start, tail.end
        )));
    }
    let slice = |s: usize, e: usize| chars[s..e].iter().collect::<String>();
    let mut out = String::new();
    let mut len = 0usize;
    let mut push = |s: &str, out: &mut String| {
        out.push_str(s);
        len += s.chars().count();
        len
    };
    // (mention, mark, type mark, is head), in text order.
    let mut order = [
        (head, HEAD_MARK, HEAD_TYPE_MARK, true),
        (tail, TAIL_MARK, TAIL_TYPE_MARK, false),
    ];
    if tail.start < head.start {
        order.swap(0, 1);
    }
    let (mut hpos, mut tpos) = ((0, 0), (0, 0));
    let mut at = c0;
    for (m, mark, tm, is_head) in order {
        let open = push(&slice(at, m.start), &mut out);
        push(
            &format!("{mark} {tm} {} {tm} ", type_word(m.entity_type)),
            &mut out,
        );
        push(&slice(m.start, m.end), &mut out);
        let close = push(" ", &mut out);
        push(mark, &mut out);
        if is_head {
            hpos = (open, close);
        } else {
            tpos = (open, close);
        }
        at = m.end;
    }
    push(&slice(at, c1), &mut out);
    Ok(MarkedContext {
        text: out,
        head: hpos,
        tail: tpos,
    })
}

/// One encoded candidate: framed ids and the positions of the head and tail markers in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairRow {
    /// Token ids, special tokens included.
    pub ids: Vec<i64>,
    /// Positions of the head's and the tail's opening marker in `ids`.
    pub index: [i64; 2],
}

/// Encode the marked context of a candidate; `None` when the two marked mentions do not fit in one window.
pub fn encode_pair(
    tok: &TextTokenizer,
    framing: &Framing,
    text: &str,
    head: &Mention,
    tail: &Mention,
    context: (usize, usize),
) -> Result<Option<PairRow>> {
    let marked = marked_context(text, head, tail, context)?;
    let pieces = tok.encode_pieces(&marked.text)?;
    let find = |c: usize| {
        pieces.offsets.iter().position(|o| o.0 == c).ok_or_else(|| {
            CragError::Runtime(format!(
                "relation marker at char {c} is not a piece of {:?}",
                marked.text
            ))
        })
    };
    let (h0, h1) = (find(marked.head.0)?, find(marked.head.1)?);
    let (t0, t1) = (find(marked.tail.0)?, find(marked.tail.1)?);
    let (lo, hi) = (h0.min(t0), h1.max(t1));
    let content = framing.content();
    let n = pieces.len();
    let window = if n <= content {
        0..n
    } else {
        if hi + 1 - lo > content {
            return Ok(None);
        }
        let slack = content - (hi + 1 - lo);
        let start = lo.saturating_sub(slack / 2).min(n - content);
        start..start + content
    };
    let off = (framing.offset() as i64) - window.start as i64;
    Ok(Some(PairRow {
        ids: framing.ids(&pieces, &window),
        index: [h0 as i64 + off, t0 as i64 + off],
    }))
}

/// Labels a pair of types may take: `none` (always) and those of the head's relation `types`
/// ([`RelationHead::relation_types`], in label order) that allow `head → tail`.
pub fn type_mask(types: &[RelationType], h: EntityType, t: EntityType) -> Vec<bool> {
    let mut mask = vec![true];
    mask.extend(types.iter().map(|r| r.allows(h, t)));
    mask
}

/// Softmax of `logits` over the labels of `mask` (others get probability 0).
pub fn masked_softmax(logits: &[f32], mask: &[bool]) -> Vec<f32> {
    let m = logits
        .iter()
        .zip(mask)
        .filter(|(_, &k)| k)
        .map(|(&v, _)| v)
        .fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits
        .iter()
        .zip(mask)
        .map(|(&v, &k)| if k { (v - m).exp() } else { 0.0 })
        .collect();
    let s: f32 = e.iter().sum::<f32>().max(f32::MIN_POSITIVE);
    e.into_iter().map(|v| v / s).collect()
}

/// The most probable relation of a pair (label ≥ 1) and its probability, when it is at least `threshold` and more
/// probable than `none`.
pub fn decide(probs: &[f32], threshold: f64) -> Option<(usize, f32)> {
    let (best, p) = probs
        .iter()
        .enumerate()
        .skip(1)
        .fold(
            (0, f32::NEG_INFINITY),
            |a, (i, &v)| if v > a.1 { (i, v) } else { a },
        );
    (best > 0 && f64::from(p) >= threshold && p > probs[0]).then_some((best, p))
}

/// One extracted relation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoundRelation {
    /// Head mention.
    pub head: Mention,
    /// Relation type.
    pub relation: RelationType,
    /// Tail mention.
    pub tail: Mention,
    /// Probability of the relation (softmax over the labels the pair's types allow).
    pub score: f32,
}

/// Every classified candidate of one text: the candidate and its label probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The pair.
    pub candidate: Candidate,
    /// Probability per relation label (0 where the types forbid the label).
    pub probs: Vec<f32>,
}

/// Classify every candidate pair of every text. `run(ids, mask, pair_index, batch, seq)` gets row-major padded
/// rows (up to `batch` per call, similar lengths together) and returns relation logits
/// `[batch, n_relation_labels]`. Pairs that do not fit in a window are left out.
pub fn score_candidates<F>(
    tok: &TextTokenizer,
    cfg: &NerConfig,
    texts: &[&str],
    mentions: &[Vec<Mention>],
    batch: usize,
    mut run: F,
) -> Result<Vec<Vec<Scored>>>
where
    F: FnMut(&[i64], &[i64], &[[i64; 2]], usize, usize) -> Result<Array2<f32>>,
{
    let head = cfg.relation_head()?;
    let types = head.relation_types()?;
    if texts.len() != mentions.len() {
        return Err(CragError::invalid(format!(
            "{} texts but {} mention lists",
            texts.len(),
            mentions.len()
        )));
    }
    let framing = Framing::new(tok, cfg)?;
    let k = head.labels.len();
    // (text, candidate, row, mask)
    let mut jobs = Vec::new();
    for (d, (text, ms)) in texts.iter().zip(mentions).enumerate() {
        for c in candidates(text, ms, head)? {
            let (h, t) = (&ms[c.head], &ms[c.tail]);
            if let Some(row) = encode_pair(tok, &framing, text, h, t, c.context)? {
                let mask = type_mask(&types, h.entity_type, t.entity_type);
                jobs.push((d, c, row, mask));
            }
        }
    }
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&j| jobs[j].2.ids.len());
    let pad = i64::from(tok.pad_id());
    let mut probs: Vec<Vec<f32>> = vec![vec![]; jobs.len()];
    for chunk in order.chunks(batch.max(1)) {
        let rows: Vec<&[i64]> = chunk.iter().map(|&j| jobs[j].2.ids.as_slice()).collect();
        let index: Vec<[i64; 2]> = chunk.iter().map(|&j| jobs[j].2.index).collect();
        let b = Batch::from_rows(&rows, pad);
        let logits = run(&b.input_ids, &b.attention_mask, &index, b.batch, b.seq_len)?;
        if logits.shape() != [chunk.len(), k] {
            return Err(CragError::CorruptModel(format!(
                "relation head returned logits of shape {:?}, expected [{}, {k}]",
                logits.shape(),
                chunk.len()
            )));
        }
        for (r, &j) in chunk.iter().enumerate() {
            let row: Vec<f32> = logits.row(r).to_vec();
            probs[j] = masked_softmax(&row, &jobs[j].3);
        }
    }
    let mut out: Vec<Vec<Scored>> = vec![vec![]; texts.len()];
    for ((d, c, _, _), p) in jobs.into_iter().zip(probs) {
        out[d].push(Scored {
            candidate: c,
            probs: p,
        });
    }
    Ok(out)
}

/// Relations of every text given its mentions (see [`score_candidates`]): candidates whose best relation reaches
/// the head's threshold, in candidate order.
pub fn extract_relations<F>(
    tok: &TextTokenizer,
    cfg: &NerConfig,
    texts: &[&str],
    mentions: &[Vec<Mention>],
    batch: usize,
    run: F,
) -> Result<Vec<Vec<FoundRelation>>>
where
    F: FnMut(&[i64], &[i64], &[[i64; 2]], usize, usize) -> Result<Array2<f32>>,
{
    let head = cfg.relation_head()?;
    let types = head.relation_types()?;
    let scored = score_candidates(tok, cfg, texts, mentions, batch, run)?;
    Ok(scored
        .into_iter()
        .zip(mentions)
        .map(|(s, ms)| {
            s.into_iter()
                .filter_map(|sc| {
                    decide(&sc.probs, head.threshold).map(|(label, p)| FoundRelation {
                        head: ms[sc.candidate.head].clone(),
                        relation: types[label - 1],
                        tail: ms[sc.candidate.tail].clone(),
                        score: p,
                    })
                })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bert::BertConfig;

    fn m(text: &str, mention: &str, t: EntityType) -> Mention {
        let b = text.find(mention).expect("mention in text");
        let start = text[..b].chars().count();
        Mention {
            start,
            end: start + mention.chars().count(),
            text: mention.to_string(),
            entity_type: t,
            score: 1.0,
        }
    }

    fn slice(text: &str, s: usize, e: usize) -> String {
        text.chars().skip(s).take(e - s).collect()
    }

    #[test]
    fn sentences_split_on_boundaries_not_abbreviations() {
        let t = "Fever began after i.v. dosing, e.g. on day 2. Dr. Smith stopped it! Rash resolved.\nPlan: CT";
        let s: Vec<String> = sentence_spans(t)
            .into_iter()
            .map(|(a, b)| slice(t, a, b))
            .collect();
        assert_eq!(
            s,
            vec![
                "Fever began after i.v. dosing, e.g. on day 2.",
                "Dr. Smith stopped it!",
                "Rash resolved.",
                "Plan: CT"
            ]
        );
        assert_eq!(sentence_spans("  "), vec![]);
        assert_eq!(sentence_spans("no boundary here"), vec![(0, 16)]);
        // Char (not byte) offsets.
        let u = "Ödem nach Gabe. Übelkeit folgte.";
        let spans = sentence_spans(u);
        assert_eq!(spans, vec![(0, 15), (16, 32)]);
        assert_eq!(slice(u, 16, 32), "Übelkeit folgte.");
    }

    #[test]
    fn candidates_follow_types_sentences_and_overlap() {
        let t = "Aspirin caused rash. Asthma was noted later.";
        let ms = vec![
            m(t, "Aspirin", EntityType::Drug),
            m(t, "rash", EntityType::Symptom),
            m(t, "Asthma", EntityType::Disease),
        ];
        let pairs = |max_sentences| {
            let head = RelationHead {
                max_sentences,
                ..RelationHead::new(8)
            };
            candidates(t, &ms, &head).unwrap()
        };
        let one = pairs(1);
        assert_eq!(one.len(), 1, "only Drug→Symptom lies in one sentence");
        assert_eq!((one[0].head, one[0].tail), (0, 1));
        assert_eq!(
            slice(t, one[0].context.0, one[0].context.1),
            "Aspirin caused rash."
        );
        let two: Vec<(usize, usize)> = pairs(2).iter().map(|c| (c.head, c.tail)).collect();
        // adverse_effect, Drug→Disease, indicates (Symptom→Disease), causes (Disease→Symptom); never reversed Drug.
        assert_eq!(two, vec![(0, 1), (0, 2), (1, 2), (2, 1)]);
        assert_eq!(pairs(2)[1].context, (0, t.chars().count()));
        // Overlapping mentions are never paired.
        let t2 = "Codeine intoxication";
        let ms2 = vec![
            m(t2, "Codeine", EntityType::Drug),
            m(t2, "Codeine intoxication", EntityType::Disease),
        ];
        assert!(candidates(t2, &ms2, &RelationHead::new(8))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn marked_context_positions_point_at_the_markers() {
        let t = "Ödem: asthma got worse after aspirin.";
        let head = m(t, "aspirin", EntityType::Drug);
        let tail = m(t, "asthma", EntityType::Disease);
        let mc = marked_context(t, &head, &tail, (0, t.chars().count())).unwrap();
        assert_eq!(
            mc.text,
            "Ödem: # ^ disease ^ asthma # got worse after @ * drug * aspirin @."
        );
        let at = |i: usize| mc.text.chars().nth(i);
        assert_eq!((at(mc.head.0), at(mc.head.1)), (Some('@'), Some('@')));
        assert_eq!((at(mc.tail.0), at(mc.tail.1)), (Some('#'), Some('#')));
        assert!(mc.head.0 > mc.tail.1);
        let lab = m("glucose high", "glucose", EntityType::LabTest);
        let dz = m("glucose high", "high", EntityType::Disease);
        let mc2 = marked_context("glucose high", &lab, &dz, (0, 12)).unwrap();
        assert_eq!(mc2.text, "@ * lab test * glucose @ # ^ disease ^ high #");
        // A context cut inside the sentence.
        let mc3 = marked_context(t, &head, &tail, (6, 36)).unwrap();
        assert!(mc3.text.starts_with("# ^ disease ^ asthma #"));
        assert!(marked_context(t, &head, &head, (0, 10)).is_err());
    }

    #[test]
    fn masks_softmax_and_decisions() {
        let head = RelationHead::new(4);
        // none, treats, causes, indicates, prevents, adverse_effect
        let types = head.relation_types().unwrap();
        let dd = type_mask(&types, EntityType::Drug, EntityType::Disease);
        assert_eq!(dd, vec![true, true, false, false, true, true]);
        let ds = type_mask(&types, EntityType::Disease, EntityType::Symptom);
        assert_eq!(ds, vec![true, false, true, false, false, false]);
        let p = masked_softmax(&[0.0, 1.0, 9.0, 0.0, 1.0, 1.0], &dd);
        assert_eq!(p[2], 0.0);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((p[1] - p[4]).abs() < 1e-7);
        assert_eq!(decide(&[0.1, 0.7, 0.0, 0.0, 0.1, 0.1], 0.5), Some((1, 0.7)));
        assert_eq!(decide(&[0.6, 0.4, 0.0, 0.0, 0.0, 0.0], 0.3), None);
        assert_eq!(decide(&[0.5, 0.45, 0.0, 0.0, 0.05, 0.0], 0.4), None);
    }

    fn tok() -> TextTokenizer {
        let dir = std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into());
        TextTokenizer::from_file_plain(std::path::Path::new(&dir).join("tokenizer.json"), 512)
            .expect("MiniLM tokenizer (scripts/setup-minilm.sh)")
    }

    fn cfg(max_len: usize) -> NerConfig {
        NerConfig {
            relations: Some(RelationHead::new(8)),
            ..NerConfig::new(
                BertConfig {
                    vocab_size: 30522,
                    ..BertConfig::minilm_l6()
                },
                max_len,
            )
        }
    }

    #[test]
    fn encoded_pairs_index_the_markers_and_fit_long_contexts() {
        let tok = tok();
        let c = cfg(24);
        let framing = Framing::new(&tok, &c).unwrap();
        let at = tok.token_id("@").unwrap() as i64;
        let hash = tok.token_id("#").unwrap() as i64;
        let t = "After three weeks of uninterrupted therapy the patient who had been well for years developed \
                 a widespread rash attributed to carbamazepine by the treating team.";
        let head = m(t, "carbamazepine", EntityType::Drug);
        let tail = m(t, "rash", EntityType::Symptom);
        let row = encode_pair(&tok, &framing, t, &head, &tail, (0, t.chars().count()))
            .unwrap()
            .expect("the pair fits in one window");
        assert!(row.ids.len() <= 24);
        assert_eq!(row.ids[row.index[0] as usize], at);
        assert_eq!(row.ids[row.index[1] as usize], hash);
        // Too far apart for a window of 22 pieces.
        let far = m(t, "therapy", EntityType::Procedure);
        let dz = Mention {
            entity_type: EntityType::Disease,
            ..m(t, "treating team", EntityType::Disease)
        };
        assert_eq!(
            encode_pair(&tok, &framing, t, &far, &dz, (0, t.chars().count())).unwrap(),
            None
        );
    }

    #[test]
    fn extraction_batches_rows_and_decodes_by_type() {
        let tok = tok();
        let c = cfg(64);
        let texts = [
            "Aspirin caused rash.",
            "Fever indicates pneumonia. Nothing else.",
        ];
        let mentions = vec![
            vec![
                m(texts[0], "Aspirin", EntityType::Drug),
                m(texts[0], "rash", EntityType::Symptom),
            ],
            vec![
                m(texts[1], "Fever", EntityType::Symptom),
                m(texts[1], "pneumonia", EntityType::Disease),
            ],
        ];
        let mut calls = 0;
        let found = extract_relations(&tok, &c, &texts, &mentions, 1, |ids, mask, index, b, l| {
            calls += 1;
            assert_eq!(ids.len(), b * l);
            assert_eq!(mask.len(), b * l);
            assert_eq!(index.len(), b);
            // Prefer label 2 (causes) strongly: forbidden for both pairs, so the mask decides.
            let mut a = Array2::<f32>::zeros((b, 6));
            for r in 0..b {
                a[[r, 2]] = 20.0;
                a[[r, 3]] = 5.0;
                a[[r, 5]] = 4.0;
            }
            Ok(a)
        })
        .unwrap();
        // Aspirin→rash; Fever→pneumonia and pneumonia→Fever (Disease→Symptom may be `causes`).
        assert_eq!(calls, 3);
        assert_eq!(found[0].len(), 1);
        assert_eq!(found[0][0].relation, RelationType::AdverseEffect);
        assert_eq!(found[0][0].head.text, "Aspirin");
        let got: Vec<(&str, RelationType, &str)> = found[1]
            .iter()
            .map(|r| (r.head.text.as_str(), r.relation, r.tail.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Fever", RelationType::Indicates, "pneumonia"),
                ("pneumonia", RelationType::Causes, "Fever")
            ]
        );
        assert!(found[1][0].score > 0.9);
        let none = extract_relations(&tok, &c, &texts, &mentions, 8, |_, _, _, b, _| {
            Ok(Array2::<f32>::zeros((b, 6)))
        })
        .unwrap();
        assert!(none.iter().all(Vec::is_empty), "ties go to none");
        let entity_only = NerConfig {
            relations: None,
            ..c.clone()
        };
        assert!(
            extract_relations(&tok, &entity_only, &texts, &mentions, 8, |_, _, _, b, _| {
                Ok(Array2::<f32>::zeros((b, 6)))
            })
            .is_err()
        );
    }
}
