-- CRAG demo: run by scripts/demo.sh as the postgres superuser against database crag_demo, after demo.sh loaded
-- the DrugBAN Human test pairs (demo_dti_pairs) and SIDER drug names (sider_drugs) from ../shared/data.
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS crag;
SET search_path = public, crag;

\echo '== default models (imported from $sharedir/extension/crag_models) =='
SELECT * FROM crag.import_default_models();
SELECT name, version, kind, active, size, adr_terms, adr_prototypes,
       round((metrics #>> '{dti,test,auroc}')::numeric, 4) AS test_auroc FROM crag.models_overview;

-- A small literature table: held-out drug-target pairs whose drug is named in SIDER, linked by structure
-- (crag_structure_key), not by string. known_label is the DrugBAN test label, never seen in training.
DROP TABLE IF EXISTS demo_literature;
CREATE TABLE demo_literature AS
WITH named AS (
  SELECT DISTINCT ON (p.smiles, p.protein) s.drug_name AS drug, p.smiles, p.protein, p.y::int AS known_label
    FROM demo_dti_pairs p JOIN sider_drugs s ON crag_structure_key(s.smiles) = crag_structure_key(p.smiles)
   ORDER BY p.smiles, p.protein, s.drug_name)
SELECT row_number() OVER (ORDER BY known_label DESC, drug, protein) AS doc_id, *
  FROM (SELECT * FROM named WHERE known_label = 1 ORDER BY drug, protein LIMIT 5) pos
UNION ALL
SELECT row_number() OVER (ORDER BY drug, protein) + 5, *
  FROM (SELECT * FROM named WHERE known_label = 0 ORDER BY drug, protein LIMIT 5) neg;

\echo '== crag_dti: p_bind straight from SMILES and protein sequence =='
SELECT doc_id, drug, left(protein, 12) || '... (' || length(protein) || ' aa)' AS target, known_label,
       round(crag_dti(crag_drug_features(smiles), crag_protein_features(protein))::numeric, 4) AS p_bind
  FROM demo_literature ORDER BY doc_id;

\echo '== crag_topk_adr: top-10 MedDRA terms for the highest-scoring pair =='
WITH best AS (SELECT * FROM demo_literature
               ORDER BY crag_dti(crag_drug_features(smiles), crag_protein_features(protein)) DESC LIMIT 1)
SELECT b.drug, t.rank, t.term, m.meddra_id, round(t.score::numeric, 4) AS score, round(t.joint_score::numeric, 4) AS joint_score
  FROM best b
  CROSS JOIN LATERAL crag_topk_adr(crag_drug_features(b.smiles), crag_protein_features(b.protein), 10) t
  JOIN crag.models mo ON mo.name = 'dti' AND mo.active
  JOIN crag.adr_terms m ON m.model = 'dti' AND m.version = mo.version AND m.adr_index = t.adr_index
 ORDER BY t.rank;

\echo '== crag_dti_batch: one ONNX Runtime call per crag.batch_size rows over the whole DrugBAN test set =='
WITH v AS (SELECT row_number() OVER () AS i, crag_drug_features(smiles) AS d, crag_protein_features(protein) AS p, y
             FROM demo_dti_pairs),
     b AS (SELECT array_agg(y ORDER BY i) AS y, crag_dti_batch(array_agg(d ORDER BY i), array_agg(p ORDER BY i)) AS p FROM v)
SELECT count(*) AS pairs,
       round(avg(((b.p[i] >= (SELECT (config->>'threshold')::float8 FROM crag.models WHERE name = 'dti' AND active)) = (b.y[i] = 1))::int)::numeric, 4) AS accuracy_at_val_threshold
  FROM b, generate_subscripts(b.p, 1) i;

-- Relation scoring (crag_score): P(causal) for a drug and an adverse reaction in context.
\echo '== crag_score: drug context and ADR context with the mentions marked; crag_score_sentence marks them itself =='
SELECT round(crag_score('Intravenous [DRUG]azithromycin[/DRUG]-induced ototoxicity.',
                        'Intravenous azithromycin-induced [ADR]ototoxicity[/ADR].')::numeric, 4) AS p_causal;
-- One sentence, marked by crag_score_sentence: adverse effects, and the conditions the drugs were given for.
SELECT s.drug, s.adr, round(crag_score_sentence(s.sentence, s.drug, s.adr)::numeric, 4) AS p_causal, s.sentence
  FROM (VALUES ('Intravenous azithromycin-induced ototoxicity.', 'azithromycin', 'ototoxicity'),
               ('Unaccountable severe hypercalcemia in a patient treated for hypoparathyroidism with dihydrotachysterol.',
                'dihydrotachysterol', 'hypercalcemia'),
               ('Unaccountable severe hypercalcemia in a patient treated for hypoparathyroidism with dihydrotachysterol.',
                'dihydrotachysterol', 'hypoparathyroidism'),
               ('The patient was given paracetamol for fever and later developed a maculopapular rash from amoxicillin.',
                'paracetamol', 'fever'),
               ('The patient was given paracetamol for fever and later developed a maculopapular rash from amoxicillin.',
                'amoxicillin', 'maculopapular rash')) AS s(sentence, drug, adr);
\echo '== crag_score on two sentences of one record (a drug column and an event column), as the model card calls it =='
SELECT c.pair, round(crag_score(c.drug_text, c.adr_text)::numeric, 4) AS p_causal, c.adr_text
  FROM (VALUES (1, 'adverse reaction', 'Patient was prescribed [DRUG]aspirin[/DRUG] for pain management.',
                'The patient experienced [ADR]gastrointestinal bleeding[/ADR].'),
               (2, 'indication resolved', 'Patient was prescribed [DRUG]aspirin[/DRUG] for pain management.',
                'The patient''s [ADR]pain[/ADR] resolved.'),
               (3, 'adverse reaction', 'Intravenous [DRUG]azithromycin[/DRUG] was started for pneumonia.',
                'Two weeks later she reported bilateral [ADR]hearing loss[/ADR].'),
               (4, 'indication', 'Intravenous [DRUG]azithromycin[/DRUG] was started for pneumonia.',
                'Her [ADR]pneumonia[/ADR] was confirmed by chest radiography.')) AS c(i, pair, drug_text, adr_text)
 ORDER BY c.i;

-- A 1,000-row literature table: annotated drug-ADR sentences of ADE Corpus V2 (one per PMID), scored in batches.
-- Control rows pair each drug context with the ADR context of the next PMID's sentence (not a causal pair).
-- About 80 % of these PMIDs were training data: this shows the batch path, not accuracy (see EVALUATION.md for the
-- held-out PMID split).
DROP TABLE IF EXISTS demo_ade;
CREATE TABLE demo_ade AS
SELECT row_number() OVER (ORDER BY pmid) AS id, *
  FROM (SELECT DISTINCT ON (pmid) pmid, sentence, drug, adr FROM ade_sentences
         WHERE strpos(sentence, drug) > 0 AND strpos(sentence, adr) > 0
         ORDER BY pmid, sentence, drug, adr) s
 ORDER BY pmid LIMIT 1000;
\echo '== crag_score_sentence_batch over 1,000 literature rows, and crag_score_batch over 1,000 mismatched controls =='
\timing on
CREATE TEMP TABLE scored AS
SELECT b.ids[i] AS id, b.p[i] AS p_causal
  FROM (SELECT array_agg(id ORDER BY id) AS ids,
               crag_score_sentence_batch(array_agg(sentence ORDER BY id), array_agg(drug ORDER BY id),
                                         array_agg(adr ORDER BY id)) AS p FROM demo_ade) b,
       generate_subscripts(b.p, 1) i;
CREATE TEMP TABLE controls AS
WITH c AS (SELECT a.id, replace(a.sentence, a.drug, '[DRUG]' || a.drug || '[/DRUG]') AS drug_ctx,
                  replace(n.sentence, n.adr, '[ADR]' || n.adr || '[/ADR]') AS adr_ctx
             FROM demo_ade a JOIN demo_ade n ON n.id = a.id % 1000 + 1)
SELECT b.ids[i] AS id, b.p[i] AS p_causal
  FROM (SELECT array_agg(id ORDER BY id) AS ids,
               crag_score_batch(array_agg(drug_ctx ORDER BY id), array_agg(adr_ctx ORDER BY id)) AS p FROM c) b,
       generate_subscripts(b.p, 1) i;
\timing off
WITH thr AS (SELECT (config->>'threshold')::float8 AS t FROM crag.models WHERE name = 'relation' AND active)
SELECT 'annotated ADE pairs' AS rows, count(*) AS n, round(avg(p_causal)::numeric, 4) AS mean_p,
       round(avg((p_causal >= thr.t)::int)::numeric, 4) AS flagged_at_val_threshold
  FROM scored, thr GROUP BY thr.t
UNION ALL
SELECT 'mismatched controls', count(*), round(avg(p_causal)::numeric, 4), round(avg((p_causal >= thr.t)::int)::numeric, 4)
  FROM controls, thr GROUP BY thr.t;

-- Medical NER/RE (crag_extract_entities, crag_extract_relations): one extractor, entities then relations.
-- Known weaknesses, shown on purpose (EVALUATION.md): treats/causes/indicates/prevents were learned from synthetic
-- notes only (metformin -> type 2 diabetes is not reported as treats; HbA1c -> diabetes "indicates" barely passes),
-- and non-English words are tagged poorly ("Fièvre" as Disease). The indication in note 1 (lithium -> bipolar
-- disorder), an adverse effect for the extractor shipped before 2026-11-29 08:00, is no longer reported. Labels are the most probable BIO sequence (config "decoding"), and
-- mentions go through the model's document-level refinement (config "refine": mentions scoring below min_score 0.9
-- and forms BC5CDR's annotators seldom mark on their own are left out, then abbreviation definitions, adjacent
-- fragments, a lexicon of BC5CDR training forms and a boundary model that moves a mention's edge to BC5CDR's
-- conventions; tuned on BC5CDR dev; these four notes come out the same with or without the boundary step). "pneumonia" in note 3 scores 0.75 and is
-- not in the lexicon, so it and its relation are not shown: a precision/recall trade-off.
\echo '== crag_extract_entities / crag_extract_relations on a few sentences =='
CREATE TEMP TABLE demo_notes(id int, note text);
INSERT INTO demo_notes VALUES
  (1, 'A 63-year-old man developed acute renal failure two weeks after starting lithium for bipolar disorder.'),
  (2, 'Intravenous azithromycin-induced ototoxicity.'),
  (3, 'Metformin was started for type 2 diabetes; HbA1c fell from 9.1 % to 7.2 %. Fever and cough indicated pneumonia.'),
  (4, 'Fièvre et éruption cutanée sous amoxicilline 😀 — the rash resolved after the drug was stopped.');
SELECT n.id, e.start_pos, e.end_pos, e.mention, e.entity_type, round(e.score::numeric, 3) AS score
  FROM demo_notes n, crag_extract_entities(n.note) e ORDER BY n.id, e.start_pos;
SELECT n.id, r.head, r.head_type, r.relation, r.tail, r.tail_type, round(r.score::numeric, 3) AS score
  FROM demo_notes n, crag_extract_relations(n.note) r ORDER BY n.id, r.head_start, r.tail_start;

-- Batch signal detection over the literature table: adverse_effect relations found in 200 ADE sentences, counted
-- by drug (one ONNX Runtime call per crag.batch_size rows; annotated sentences, so this shows the path, not accuracy).
\echo '== crag_extract_relations_batch over 200 literature sentences: most frequent drug -> adverse effect pairs =='
\timing on
CREATE TEMP TABLE demo_extracted AS
SELECT r.* FROM (SELECT array_agg(sentence ORDER BY id) AS s FROM (SELECT * FROM demo_ade ORDER BY id LIMIT 200) a) b,
       crag_extract_relations_batch(b.s) r;
\timing off
SELECT relation, count(*) AS relations, count(DISTINCT doc) AS sentences FROM demo_extracted GROUP BY 1 ORDER BY 2 DESC;
SELECT lower(head) AS drug, lower(tail) AS effect, count(*) AS n, round(avg(score)::numeric, 3) AS mean_score
  FROM demo_extracted WHERE relation = 'adverse_effect' GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10;
