//! Text tokenization for the relation model `crag_score(drug_text, adr_text)`.
//!
//! [`TextTokenizer`] wraps a HuggingFace `tokenizers::Tokenizer` loaded from a `tokenizer.json` (MiniLM's, installed
//! by `scripts/setup-minilm.sh`). Loading overrides what the file has built in: MiniLM's JSON pads *and* truncates to
//! a fixed 128, which would make every batch 128 long. Here there is no built-in padding or truncation; each text is
//! cut to `max_len` tokens (keeping the post-processor's `[CLS]` … `[SEP]` frame) and a batch is padded to its
//! longest row only (dynamic padding), which is what matters for CPU inference speed. A text with entity markers is
//! cut to the window of pieces **centred on its marked mentions** (a whole abstract as a drug context keeps the
//! sentences around `[DRUG] … [/DRUG]`); a text without markers keeps its first pieces.
//!
//! Entity markers ([`DRUG_OPEN`], [`DRUG_CLOSE`], [`ADR_OPEN`], [`ADR_CLOSE`]) are added as special tokens with new ids
//! after the vocabulary; they are never split or lower-cased. [`TextTokenizer::to_json_bytes`] serialises the tokenizer
//! *with* the markers (and without the fixed padding/truncation) so it can be stored next to a model and reloaded to
//! give identical ids. [`mark`] and [`mark_pair`] insert the markers into a sentence at char (not byte) offsets.
//!
//! Texts are encoded one by one on the calling thread (no rayon pool), so the tokenizer is safe to use inside a
//! PostgreSQL backend.

use std::path::Path;

use tokenizers::{AddedToken, PostProcessor, Tokenizer, TruncationDirection};

use crate::{CragError, Result};

/// Opening marker of the drug mention.
pub const DRUG_OPEN: &str = "[DRUG]";
/// Closing marker of the drug mention.
pub const DRUG_CLOSE: &str = "[/DRUG]";
/// Opening marker of the adverse-reaction mention.
pub const ADR_OPEN: &str = "[ADR]";
/// Closing marker of the adverse-reaction mention.
pub const ADR_CLOSE: &str = "[/ADR]";
/// All four markers, in the order in which they are added to the vocabulary.
pub const MARKERS: [&str; 4] = [DRUG_OPEN, DRUG_CLOSE, ADR_OPEN, ADR_CLOSE];

/// A padded batch of encoded texts, row-major `[batch, seq_len]`, ready for an ONNX encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Token ids; padding positions hold the tokenizer's pad id.
    pub input_ids: Vec<i64>,
    /// 1 on real tokens, 0 on padding.
    pub attention_mask: Vec<i64>,
    /// Segment ids (all 0 for single texts); 0 on padding.
    pub token_type_ids: Vec<i64>,
    /// Number of rows.
    pub batch: usize,
    /// Length of every row: the longest encoded text in the batch.
    pub seq_len: usize,
    /// Per row: whether the text was cut to fit `max_len`.
    pub truncated: Vec<bool>,
}

/// Word pieces of one text (no special tokens) with their char offsets in the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pieces {
    /// Piece ids.
    pub ids: Vec<u32>,
    /// Per piece, `[start, end)` in chars (Unicode scalar values) of the original text.
    pub offsets: Vec<(usize, usize)>,
}

impl Pieces {
    /// Number of pieces.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no pieces.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl Batch {
    /// Pad already-encoded rows (special tokens included) with `pad_id` to the longest row; token types 0, nothing
    /// marked truncated.
    pub fn from_rows(rows: &[&[i64]], pad_id: i64) -> Batch {
        let seq_len = rows.iter().map(|r| r.len()).max().unwrap_or(0);
        let mut b = Batch {
            input_ids: Vec::with_capacity(rows.len() * seq_len),
            attention_mask: Vec::with_capacity(rows.len() * seq_len),
            token_type_ids: vec![0; rows.len() * seq_len],
            batch: rows.len(),
            seq_len,
            truncated: vec![false; rows.len()],
        };
        for r in rows {
            let pad = seq_len - r.len();
            b.input_ids.extend_from_slice(r);
            b.input_ids.extend(std::iter::repeat_n(pad_id, pad));
            b.attention_mask.extend(std::iter::repeat_n(1, r.len()));
            b.attention_mask.extend(std::iter::repeat_n(0, pad));
        }
        b
    }
}

/// A `tokenizer.json` tokenizer with entity markers, own truncation and dynamic padding.
#[derive(Debug, Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    max_len: usize,
    pad_id: u32,
    /// Special tokens the post-processor adds to one sequence ([CLS] and [SEP] for BERT: 2).
    n_special: usize,
    /// Ids of the entity markers (empty for a tokenizer loaded without them).
    marker_ids: Vec<u32>,
    /// Ids the post-processor puts before and after one sequence.
    frame: (Vec<u32>, Vec<u32>),
}

fn tok_err(what: &str, e: impl std::fmt::Display) -> CragError {
    CragError::CorruptModel(format!("{what}: {e}"))
}

impl TextTokenizer {
    /// Load from the bytes of a `tokenizer.json`. Built-in padding and truncation are removed, the four entity
    /// markers are added as special tokens (no-op when already present, e.g. after [`Self::to_json_bytes`]), and
    /// every encoded text is truncated to at most `max_len` tokens, special tokens included.
    pub fn from_bytes(json: &[u8], max_len: usize) -> Result<Self> {
        Self::load(json, max_len, true)
    }

    /// Load from the bytes of a `tokenizer.json` *without* adding the entity markers (the NER model's tokenizer:
    /// its vocabulary is the checkpoint's own). Padding and truncation are removed as in [`Self::from_bytes`].
    pub fn from_bytes_plain(json: &[u8], max_len: usize) -> Result<Self> {
        Self::load(json, max_len, false)
    }

    fn load(json: &[u8], max_len: usize, markers: bool) -> Result<Self> {
        let mut inner =
            Tokenizer::from_bytes(json).map_err(|e| tok_err("cannot parse tokenizer.json", e))?;
        // The pad id comes from the file's padding settings when it has some, else from its [PAD] token.
        let pad_id = match inner.get_padding() {
            Some(p) => p.pad_id,
            None => inner.token_to_id("[PAD]").ok_or_else(|| {
                CragError::CorruptModel(
                    "tokenizer.json has neither padding settings nor a [PAD] token".into(),
                )
            })?,
        };
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| tok_err("cannot disable truncation", e))?;
        if markers {
            inner
                .add_special_tokens(MARKERS.iter().map(|m| AddedToken::from(*m, true)))
                .map_err(|e| tok_err("cannot add entity markers", e))?;
        }
        let n_special = inner
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(false));
        if max_len <= n_special {
            return Err(CragError::invalid(format!(
                "max_len must exceed the {n_special} special tokens of a sequence, got {max_len}"
            )));
        }
        let mut tok = TextTokenizer {
            inner,
            max_len,
            pad_id,
            n_special,
            marker_ids: Vec::new(),
            frame: (Vec::new(), Vec::new()),
        };
        if markers {
            for m in MARKERS {
                let id = tok.token_id(m).ok_or_else(|| {
                    CragError::CorruptModel(format!("marker {m} missing after loading"))
                })?;
                tok.marker_ids.push(id);
            }
        }
        tok.frame = tok.special_frame()?;
        if tok.frame.0.len() + tok.frame.1.len() != n_special {
            return Err(CragError::CorruptModel(format!(
                "tokenizer post-processor frames one sequence with {} + {} tokens but reports {n_special}",
                tok.frame.0.len(),
                tok.frame.1.len()
            )));
        }
        Ok(tok)
    }

    /// Load a `tokenizer.json` file without entity markers; see [`Self::from_bytes_plain`].
    pub fn from_file_plain(path: impl AsRef<Path>, max_len: usize) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| CragError::io(format!("reading {}", path.display()), e))?;
        Self::from_bytes_plain(&bytes, max_len)
    }

    /// Word pieces of a whole text, **without** special tokens and without truncation, with the **char** offsets
    /// `[start, end)` of each piece in `text` (the `tokenizers` crate reports byte offsets into the original
    /// string, through any normalisation; they are converted here). An empty text gives no pieces.
    pub fn encode_pieces(&self, text: &str) -> Result<Pieces> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| CragError::Runtime(format!("tokenization failed: {e}")))?;
        // byte offset -> char index, for every char boundary (and the end).
        let mut to_char = vec![usize::MAX; text.len() + 1];
        let mut n = 0;
        for (c, (b, _)) in text.char_indices().enumerate() {
            to_char[b] = c;
            n = c + 1;
        }
        to_char[text.len()] = n;
        let conv = |b: usize| -> Result<usize> {
            match to_char.get(b) {
                Some(&c) if c != usize::MAX => Ok(c),
                _ => Err(CragError::Runtime(format!(
                    "tokenizer returned byte offset {b}, not a char boundary of the text"
                ))),
            }
        };
        let mut pieces = Pieces::default();
        for (&id, &(b0, b1)) in enc.get_ids().iter().zip(enc.get_offsets()) {
            pieces.ids.push(id);
            pieces.offsets.push((conv(b0)?, conv(b1)?));
        }
        Ok(pieces)
    }

    /// The ids the post-processor puts before and after one sequence (`[CLS]` and `[SEP]` for BERT).
    pub fn special_frame(&self) -> Result<(Vec<u32>, Vec<u32>)> {
        let enc = self
            .inner
            .encode("a", true)
            .map_err(|e| CragError::Runtime(format!("tokenization failed: {e}")))?;
        let mask = enc.get_special_tokens_mask();
        let ids = enc.get_ids();
        let first = mask.iter().position(|&m| m == 0).unwrap_or(ids.len());
        let last = mask.iter().rposition(|&m| m == 0).map_or(first, |p| p + 1);
        Ok((ids[..first].to_vec(), ids[last..].to_vec()))
    }

    /// Load a `tokenizer.json` file; see [`Self::from_bytes`].
    pub fn from_file(path: impl AsRef<Path>, max_len: usize) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| CragError::io(format!("reading {}", path.display()), e))?;
        Self::from_bytes(&bytes, max_len)
    }

    /// Serialise the tokenizer, markers included, as `tokenizer.json` bytes (no built-in padding/truncation).
    /// [`Self::from_bytes`] on them gives identical ids.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>> {
        self.inner
            .to_string(false)
            .map(String::into_bytes)
            .map_err(|e| CragError::Runtime(format!("cannot serialise tokenizer: {e}")))
    }

    /// Number of embedding rows needed: one past the largest id, markers included (30 526 for MiniLM).
    pub fn vocab_size(&self) -> usize {
        self.inner
            .get_vocab(true)
            .values()
            .max()
            .map_or(0, |&m| m as usize + 1)
    }

    /// Maximum number of tokens per text, special tokens included.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Id used on padding positions.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Id of a token (vocabulary or added), if any.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Encode one text: ids, type ids and whether it was truncated (no padding). A text over the budget keeps the
    /// window of pieces centred on its entity markers ([`marked_window`]), or its first pieces when it has none.
    fn encode_one(&self, text: &str) -> Result<(Vec<u32>, Vec<u32>, bool)> {
        if text.trim().is_empty() {
            return Err(CragError::invalid("text is empty"));
        }
        let mut enc = self
            .inner
            .encode(text, false)
            .map_err(|e| CragError::Runtime(format!("tokenization failed: {e}")))?;
        let budget = self.max_len - self.n_special;
        if enc.len() <= budget {
            let enc = self
                .inner
                .post_process(enc, None, true)
                .map_err(|e| CragError::Runtime(format!("post-processing failed: {e}")))?;
            return Ok((enc.get_ids().to_vec(), enc.get_type_ids().to_vec(), false));
        }
        let start = marked_window(enc.get_ids(), &self.marker_ids, budget);
        if start == 0 {
            enc.truncate(budget, 0, TruncationDirection::Right);
            enc.take_overflowing();
            let enc = self
                .inner
                .post_process(enc, None, true)
                .map_err(|e| CragError::Runtime(format!("post-processing failed: {e}")))?;
            return Ok((enc.get_ids().to_vec(), enc.get_type_ids().to_vec(), true));
        }
        let (pre, post) = &self.frame;
        let mut ids = Vec::with_capacity(self.max_len);
        ids.extend_from_slice(pre);
        ids.extend_from_slice(&enc.get_ids()[start..start + budget]);
        ids.extend_from_slice(post);
        let types = vec![0; ids.len()];
        Ok((ids, types, true))
    }

    /// Encode texts into one batch padded to its longest row. Any empty (or blank) text is an error.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Batch> {
        if texts.is_empty() {
            return Err(CragError::invalid("no texts to encode"));
        }
        let rows = texts
            .iter()
            .map(|t| self.encode_one(t))
            .collect::<Result<Vec<_>>>()?;
        let seq_len = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let n = rows.len() * seq_len;
        let mut batch = Batch {
            input_ids: Vec::with_capacity(n),
            attention_mask: Vec::with_capacity(n),
            token_type_ids: Vec::with_capacity(n),
            batch: rows.len(),
            seq_len,
            truncated: Vec::with_capacity(rows.len()),
        };
        for (ids, types, truncated) in rows {
            let pad = seq_len - ids.len();
            batch.input_ids.extend(ids.iter().map(|&i| i64::from(i)));
            batch
                .input_ids
                .extend(std::iter::repeat_n(i64::from(self.pad_id), pad));
            batch
                .attention_mask
                .extend(std::iter::repeat_n(1, ids.len()));
            batch.attention_mask.extend(std::iter::repeat_n(0, pad));
            batch
                .token_type_ids
                .extend(types.iter().map(|&t| i64::from(t)));
            batch.token_type_ids.extend(std::iter::repeat_n(0, pad));
            batch.truncated.push(truncated);
        }
        Ok(batch)
    }
}

/// Start of the `budget`-piece window kept from `ids` (pieces of one text, no special tokens, longer than
/// `budget`): centred on the span from the first to the last marker piece, clamped to the text; the first marker
/// when that span is itself longer than the budget; 0 when the text has no marker.
pub fn marked_window(ids: &[u32], markers: &[u32], budget: usize) -> usize {
    let is_marker = |id: &u32| markers.contains(id);
    let (Some(lo), Some(hi)) = (
        ids.iter().position(is_marker),
        ids.iter().rposition(is_marker),
    ) else {
        return 0;
    };
    let span = hi - lo + 1;
    if span >= budget {
        return lo;
    }
    let before = (budget - span) / 2;
    lo.saturating_sub(before)
        .min(ids.len().saturating_sub(budget))
}

/// Byte offset of char index `c` in `s` (`c == char count` gives `s.len()`).
fn byte_at(s: &str, c: usize) -> Option<usize> {
    s.char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(s.len()))
        .nth(c)
}

/// Check a char span against `s` and convert it to byte offsets.
fn span_bytes(s: &str, span: (usize, usize)) -> Result<(usize, usize)> {
    let (start, end) = span;
    if start >= end {
        return Err(CragError::invalid(format!(
            "span {start}..{end} is empty or reversed"
        )));
    }
    let n = s.chars().count();
    match (byte_at(s, start), byte_at(s, end)) {
        (Some(b0), Some(b1)) => Ok((b0, b1)),
        _ => Err(CragError::invalid(format!(
            "span {start}..{end} is out of range for a text of {n} chars"
        ))),
    }
}

/// Surround the chars `span.0..span.1` (char offsets, end-exclusive) of `sentence` with `open` and `close`.
pub fn mark(sentence: &str, span: (usize, usize), open: &str, close: &str) -> Result<String> {
    let (b0, b1) = span_bytes(sentence, span)?;
    let mut out = String::with_capacity(sentence.len() + open.len() + close.len());
    out.push_str(&sentence[..b0]);
    out.push_str(open);
    out.push_str(&sentence[b0..b1]);
    out.push_str(close);
    out.push_str(&sentence[b1..]);
    Ok(out)
}

/// Mark the drug span with [`DRUG_OPEN`]/[`DRUG_CLOSE`] and the adverse-reaction span with [`ADR_OPEN`]/[`ADR_CLOSE`]
/// (char offsets, end-exclusive). The spans may come in either order and may touch, but not overlap.
pub fn mark_pair(
    sentence: &str,
    drug_span: (usize, usize),
    adr_span: (usize, usize),
) -> Result<String> {
    let drug = span_bytes(sentence, drug_span)?;
    let adr = span_bytes(sentence, adr_span)?;
    if drug.0 < adr.1 && adr.0 < drug.1 {
        return Err(CragError::invalid(format!(
            "drug span {}..{} and ADR span {}..{} overlap",
            drug_span.0, drug_span.1, adr_span.0, adr_span.1
        )));
    }
    let (first, second) = if drug.0 < adr.0 {
        ((drug, DRUG_OPEN, DRUG_CLOSE), (adr, ADR_OPEN, ADR_CLOSE))
    } else {
        ((adr, ADR_OPEN, ADR_CLOSE), (drug, DRUG_OPEN, DRUG_CLOSE))
    };
    let s = sentence;
    let mut out = String::with_capacity(s.len() + 28);
    out.push_str(&s[..first.0 .0]);
    out.push_str(first.1);
    out.push_str(&s[first.0 .0..first.0 .1]);
    out.push_str(first.2);
    out.push_str(&s[first.0 .1..second.0 .0]);
    out.push_str(second.1);
    out.push_str(&s[second.0 .0..second.0 .1]);
    out.push_str(second.2);
    out.push_str(&s[second.0 .1..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETUP: &str = "scripts/setup-minilm.sh";

    /// The real MiniLM tokenizer.json; fails loudly when it has not been installed.
    fn minilm_json() -> Vec<u8> {
        let dir = std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into());
        let path = Path::new(&dir).join("tokenizer.json");
        std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "MiniLM tokenizer missing at {} ({e}): run {SETUP} (as root) first",
                path.display()
            )
        })
    }

    fn minilm(max_len: usize) -> TextTokenizer {
        TextTokenizer::from_bytes(&minilm_json(), max_len).expect("load MiniLM tokenizer")
    }

    fn row(b: &Batch, r: usize) -> &[i64] {
        &b.input_ids[r * b.seq_len..(r + 1) * b.seq_len]
    }

    fn invalid_msg<T: std::fmt::Debug>(r: Result<T>) -> String {
        match r {
            Err(CragError::InvalidArgument(m)) => m,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn simple_sentence_known_ids() {
        let tok = minilm(128);
        let b = tok
            .encode_batch(&["Azithromycin caused severe nausea."])
            .unwrap();
        assert_eq!(b.batch, 1);
        let ids = row(&b, 0);
        assert_eq!(ids[0], 101, "[CLS]");
        assert_eq!(*ids.last().unwrap(), 102, "[SEP]");
        assert_eq!(ids, PINNED_SIMPLE);
        assert_eq!(b.attention_mask, vec![1; b.seq_len]);
        assert_eq!(b.token_type_ids, vec![0; b.seq_len]);
        assert_eq!(b.truncated, vec![false]);
        // "azithromycin" is not one vocabulary word: several wordpieces.
        let az = tok.encode_batch(&["azithromycin"]).unwrap();
        assert!(az.seq_len - 2 >= 3, "azithromycin gave {:?}", az.input_ids);
        assert_eq!(&az.input_ids[1..az.seq_len - 1], &ids[1..az.seq_len - 1]);
    }

    /// [CLS] az ##ith ##rom ##y ##cin caused severe nausea . [SEP], computed once with this tokenizer.
    /// (checked against vocab.txt line numbers).
    const PINNED_SIMPLE: &[i64] = &[
        101, 17207, 8939, 21716, 2100, 15459, 3303, 5729, 19029, 1012, 102,
    ];

    #[test]
    fn markers_are_single_new_tokens_and_survive_round_trip() {
        let tok = minilm(128);
        assert_eq!(tok.pad_id(), 0);
        assert_eq!(tok.vocab_size(), 30522 + 4);
        let ids: Vec<u32> = MARKERS.iter().map(|m| tok.token_id(m).unwrap()).collect();
        assert_eq!(ids, vec![30522, 30523, 30524, 30525]);
        let text = "[DRUG]Amoxicillin[/DRUG] caused [ADR]rash[/ADR].";
        let b = tok.encode_batch(&[text]).unwrap();
        let r = row(&b, 0);
        for id in &ids {
            assert_eq!(r.iter().filter(|&&x| x == i64::from(*id)).count(), 1);
        }

        let bytes = tok.to_json_bytes().unwrap();
        let back = TextTokenizer::from_bytes(&bytes, 128).unwrap();
        assert_eq!(back.vocab_size(), tok.vocab_size());
        let ids2: Vec<u32> = MARKERS.iter().map(|m| back.token_id(m).unwrap()).collect();
        assert_eq!(ids2, ids);
        assert_eq!(back.encode_batch(&[text]).unwrap(), b);
        // Serialising again is stable, and the stored JSON has no fixed padding/truncation.
        assert_eq!(back.to_json_bytes().unwrap(), bytes);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(v["padding"].is_null() && v["truncation"].is_null());
    }

    #[test]
    fn truncation_keeps_sep_and_flags_rows() {
        let tok = minilm(8);
        let long = "the patient developed acute liver failure after taking the drug for ten days";
        let b = tok.encode_batch(&[long, "short text"]).unwrap();
        assert_eq!(b.seq_len, 8);
        assert_eq!(b.truncated, vec![true, false]);
        let r = row(&b, 0);
        assert_eq!(r[0], 101);
        assert_eq!(r[7], 102);
        assert_eq!(&b.attention_mask[..8], &[1; 8]);
        // Truncation keeps the leading tokens of the untruncated encoding.
        let full = minilm(512).encode_batch(&[long]).unwrap();
        assert!(full.seq_len > 8 && !full.truncated[0]);
        assert_eq!(&r[..7], &full.input_ids[..7]);
        // A text exactly at the limit is not truncated.
        let exact = minilm(full.seq_len).encode_batch(&[long]).unwrap();
        assert_eq!(exact, full);
        assert!(TextTokenizer::from_bytes(&minilm_json(), 2).is_err());
    }

    #[test]
    fn long_marked_texts_keep_the_window_around_the_markers() {
        let tok = minilm(16);
        let filler = "the cohort was followed for several years in the clinic. ".repeat(6);
        let text = format!("{filler}Patients on [DRUG]warfarin[/DRUG] bled. {filler}");
        let b = tok.encode_batch(&[&text]).unwrap();
        assert_eq!((b.seq_len, b.truncated[0]), (16, true));
        let r = row(&b, 0);
        assert_eq!((r[0], r[15]), (101, 102), "[CLS] … [SEP] frame kept");
        let open = tok.token_id(DRUG_OPEN).unwrap() as i64;
        let close = tok.token_id(DRUG_CLOSE).unwrap() as i64;
        let at = |id: i64| r.iter().position(|&x| x == id).unwrap();
        let (o, c) = (at(open), at(close));
        assert!(o < c && o >= 4 && c <= 11, "mention centred: {r:?}");
        // Unmarked text still keeps its first pieces; a marker at the very start keeps the start.
        let plain = tok.encode_batch(&[filler.as_str()]).unwrap();
        assert_eq!(
            &row(&plain, 0)[..15],
            &minilm(512)
                .encode_batch(&[filler.as_str()])
                .unwrap()
                .input_ids[..15]
        );
        assert_eq!(marked_window(&[9, 1, 2, 3, 4, 5], &[9], 3), 0);
        assert_eq!(marked_window(&[1, 2, 3, 4, 5, 9], &[9], 3), 3);
        assert_eq!(marked_window(&[1, 2, 9, 4, 5, 6, 7], &[9], 3), 1);
        // markers further apart than the budget: the window starts at the first one
        assert_eq!(marked_window(&[1, 9, 2, 3, 4, 9, 5], &[9], 3), 1);
        assert_eq!(marked_window(&[1, 2, 3], &[], 2), 0);
    }

    #[test]
    fn dynamic_padding_to_longest() {
        let tok = minilm(128);
        let b = tok
            .encode_batch(&["nausea", "severe nausea and vomiting after the first dose"])
            .unwrap();
        assert_eq!(b.batch, 2);
        let short = tok.encode_batch(&["nausea"]).unwrap();
        let long = tok
            .encode_batch(&["severe nausea and vomiting after the first dose"])
            .unwrap();
        assert_eq!(short.seq_len, 3);
        assert_eq!(b.seq_len, long.seq_len);
        assert!(b.seq_len < 128, "no fixed padding to 128");
        assert_eq!(b.input_ids.len(), 2 * b.seq_len);
        let pad = b.seq_len - 3;
        assert_eq!(&row(&b, 0)[..3], &short.input_ids[..]);
        assert_eq!(&row(&b, 0)[3..], &vec![0; pad][..]);
        assert_eq!(
            &b.attention_mask[..b.seq_len],
            &[vec![1; 3], vec![0; pad]].concat()[..]
        );
        assert_eq!(&b.attention_mask[b.seq_len..], &vec![1; b.seq_len][..]);
        assert_eq!(row(&b, 1), &long.input_ids[..]);
        assert_eq!(b.token_type_ids, vec![0; 2 * b.seq_len]);
    }

    #[test]
    fn mark_non_ascii_char_offsets() {
        let s = "Hépatite induite par l'amoxicilline";
        assert_eq!(s.chars().count(), 35);
        assert_eq!(
            mark(s, (0, 8), ADR_OPEN, ADR_CLOSE).unwrap(),
            "[ADR]Hépatite[/ADR] induite par l'amoxicilline"
        );
        assert_eq!(
            mark(s, (23, 35), DRUG_OPEN, DRUG_CLOSE).unwrap(),
            "Hépatite induite par l'[DRUG]amoxicilline[/DRUG]"
        );
        let both = "[ADR]Hépatite[/ADR] induite par l'[DRUG]amoxicilline[/DRUG]";
        assert_eq!(mark_pair(s, (23, 35), (0, 8)).unwrap(), both);
        // Drug first, spans touching.
        assert_eq!(
            mark_pair("aébc", (0, 2), (2, 4)).unwrap(),
            "[DRUG]aé[/DRUG][ADR]bc[/ADR]"
        );
        // The marked sentence tokenizes with each marker as one token.
        let tok = minilm(128);
        let b = tok.encode_batch(&[both]).unwrap();
        let r = row(&b, 0);
        for m in MARKERS {
            let id = i64::from(tok.token_id(m).unwrap());
            assert_eq!(r.iter().filter(|&&x| x == id).count(), 1, "{m}");
        }
        assert_eq!(r[1], i64::from(tok.token_id(ADR_OPEN).unwrap()));
        assert_eq!(r[r.len() - 2], i64::from(tok.token_id(DRUG_CLOSE).unwrap()));
    }

    #[test]
    fn pieces_have_char_offsets_through_accents_and_emoji() {
        let json = minilm_json();
        let tok = TextTokenizer::from_bytes_plain(&json, 128).unwrap();
        assert_eq!(tok.vocab_size(), 30522, "no markers in the plain tokenizer");
        assert_eq!(tok.special_frame().unwrap(), (vec![101], vec![102]));
        let text = "Fièvre 🤒 après β-blocker: hépatite.";
        let p = tok.encode_pieces(text).unwrap();
        assert!(!p.is_empty());
        let chars: Vec<char> = text.chars().collect();
        for (&(s, e), &id) in p.offsets.iter().zip(&p.ids) {
            assert!(s < e && e <= chars.len(), "{s}..{e}");
            let piece: String = chars[s..e].iter().collect();
            assert!(!piece.trim().is_empty(), "piece {id} covers {piece:?}");
        }
        // The piece starting at "hépatite" covers chars, not bytes.
        let h = text.chars().position(|c| c == 'h').unwrap();
        assert!(p.offsets.iter().any(|&(s, _)| s == h));
        assert_eq!(p.offsets.last().unwrap().1, chars.len());
        assert!(tok.encode_pieces("").unwrap().is_empty());
        // The same ids as the framed encoding, minus [CLS]/[SEP].
        let b = tok
            .encode_batch(&["Azithromycin caused severe nausea."])
            .unwrap();
        let q = tok
            .encode_pieces("Azithromycin caused severe nausea.")
            .unwrap();
        let ids: Vec<i64> = q.ids.iter().map(|&i| i64::from(i)).collect();
        assert_eq!(&b.input_ids[1..b.seq_len - 1], &ids[..]);
    }

    #[test]
    fn error_cases() {
        let tok = minilm(128);
        assert_eq!(invalid_msg(tok.encode_batch(&[""])), "text is empty");
        assert_eq!(
            invalid_msg(tok.encode_batch(&["ok", "  "])),
            "text is empty"
        );
        assert!(tok.encode_batch(&[]).is_err());
        let s = "Hépatite induite";
        assert!(invalid_msg(mark(s, (10, 17), DRUG_OPEN, DRUG_CLOSE)).contains("out of range"));
        assert!(mark(s, (10, 16), DRUG_OPEN, DRUG_CLOSE).is_ok());
        assert!(invalid_msg(mark(s, (3, 3), DRUG_OPEN, DRUG_CLOSE)).contains("empty"));
        assert!(invalid_msg(mark(s, (5, 2), DRUG_OPEN, DRUG_CLOSE)).contains("reversed"));
        assert!(invalid_msg(mark_pair(s, (0, 8), (7, 16))).contains("overlap"));
        assert!(invalid_msg(mark_pair(s, (9, 16), (0, 10))).contains("overlap"));
        assert!(invalid_msg(mark_pair(s, (0, 8), (9, 40))).contains("out of range"));
        assert!(TextTokenizer::from_bytes(b"{not json", 128).is_err());
        // from_file on the real file gives the same tokenizer as from_bytes.
        let dir = std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into());
        let f = TextTokenizer::from_file(Path::new(&dir).join("tokenizer.json"), 128).unwrap();
        assert_eq!(f.to_json_bytes().unwrap(), tok.to_json_bytes().unwrap());
        // MiniLM's BertNormalizer lower-cases and strips accents: "Hépatite" encodes as "hepatite".
        assert_eq!(
            tok.encode_batch(&["Hépatite"]).unwrap(),
            tok.encode_batch(&["hepatite"]).unwrap()
        );
        assert!(TextTokenizer::from_file("/nonexistent/tokenizer.json", 128).is_err());
    }
}
