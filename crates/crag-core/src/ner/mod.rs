//! Medical named-entity recognition and relation extraction (NER/RE) data, following the NER/RE guide
//! (`ner_re_guide.md`): the annotated-document format ([`schema`]), a seeded synthetic clinical-note
//! generator ([`synth`], vocabularies in [`vocab`]) and an evaluator ([`eval`]); and the trained extractor: the
//! token-classification model ([`model`]) with its alignment, windowing and decoding ([`tagging`]), document-level
//! refinement of its mentions (abbreviations, fragments, confidence, lexicon: [`refine`]), and relation
//! extraction over its mentions with the same encoder ([`relate`]).
//!
//! Entity types: Disease, Symptom, Drug, Procedure, Lab_Test. Relation types: treats, causes, indicates,
//! prevents, adverse_effect. Offsets are character offsets (Unicode scalar values), as in Python.

pub mod boundary;
pub mod eval;
pub mod model;
pub mod refine;
pub mod relate;
pub mod schema;
pub mod synth;
pub mod tagging;
pub mod vocab;

pub use eval::{evaluate, EvalReport, MatchMode};
pub use schema::{parse_documents, Document, Entity, EntityType, Relation, RelationType};
pub use synth::{generate, stats, ExportFormat, Generator, GeneratorConfig, SynthStats};
