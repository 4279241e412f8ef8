SET search_path = public, crag;
\set VERBOSITY terse
-- The packaged extractor: entities, then relations among them (one graph, shared encoder).
SELECT name, kind, active, config->'relations'->'labels' AS relation_labels
  FROM crag.models WHERE name = 'ner';
-- Entities with character offsets (the mention is the substring the offsets name).
SELECT start_pos, end_pos, mention, entity_type
  FROM crag_extract_entities('A 63-year-old man developed acute renal failure two weeks after starting lithium for bipolar disorder.')
 ORDER BY start_pos;
-- Word labels are the most probable valid BIO sequence ("decoding"); then document-level refinement (the model
-- config's "refine", EVALUATION.md): uncertain mentions and forms the training annotations seldom mark on their own
-- ("exclusions") are dropped, a short form defined as "long form (SF)" takes the long form's type and score wherever
-- it is used (when no mention touches the long form, "intensive care unit (ICU)", the short form is no mention
-- either), fragments merge, a lexicon of training forms fills gaps, and last a boundary model moves a mention's edge
-- where BC5CDR's conventions clearly prefer another span (never inside a word, never for a SIDER term).
SELECT config->>'decoding' AS decoding, (config->'refine') - 'lexicon' - 'exclusions' - 'boundaries' AS refine,
       jsonb_array_length(config->'refine'->'exclusions') AS exclusion_forms,
       jsonb_array_length(config->'refine'->'lexicon') AS lexicon_forms,
       jsonb_array_length(config->'refine'->'boundaries'->'trees') AS boundary_trees,
       config->'refine'->'boundaries'->'margin' AS boundary_margin,
       jsonb_array_length(config->'refine'->'boundaries'->'keep') AS kept_terms
  FROM crag.models WHERE name = 'ner' AND active;
-- Lexicon entries and where they come from: "lithium" is a form BC5CDR's training abstracts annotate often; "iron"
-- occurs in one of them only, annotated — a SIDER drug name vouches for it; "fenoldopam" is in none of them, a SIDER
-- drug name scored by the prior of unseen drug names; "pneumonia" is annotated in too few of its occurrences.
SELECT e->>'form' AS form, e->>'entity_type' AS entity_type, round((e->>'precision')::numeric, 3) AS precision
  FROM crag.models, jsonb_array_elements(config->'refine'->'lexicon') e
 WHERE name = 'ner' AND active AND e->>'form' IN ('lithium', 'iron', 'fenoldopam', 'pneumonia')
 ORDER BY 1;
-- The boundary step, against the same graph and config without it (registered as a version of another name): the
-- mentions that differ.
SELECT crag.register_model('ner_no_boundaries', kind, onnx, config #- '{refine,boundaries}', metrics, tokenizer, true)
       > 0 AS registered
  FROM crag.models WHERE name = 'ner' AND active;
WITH t(txt) AS (VALUES ('Patients with advanced Parkinson''s disease received levodopa. Seizure activity was '
                        'recorded after oral contraceptive steroids and glycopyrronium 5 micrograms/kg. Deep vein '
                        'thrombosis developed after TMP-SMX.')),
     a AS (SELECT e.* FROM t, crag_extract_entities(txt) e),
     b AS (SELECT e.* FROM t, crag_extract_entities(txt, 'ner_no_boundaries') e)
SELECT coalesce(a.mention, '-') AS with_boundaries, coalesce(b.mention, '-') AS without, coalesce(a.entity_type, b.entity_type) AS entity_type
  FROM a FULL JOIN b USING (start_pos, end_pos)
 WHERE a.mention IS NULL OR b.mention IS NULL
 ORDER BY coalesce(a.start_pos, b.start_pos);
SELECT start_pos, end_pos, mention, entity_type, round(score::numeric, 2) AS score
  FROM crag_extract_entities('Neuroleptic malignant syndrome (NMS) developed on haloperidol. NMS resolved after '
                             'dantrolene in the intensive care unit (ICU); ICU staff gave captopril.')
 ORDER BY start_pos;
-- Short forms defined with a separator or as one capital take their long form's type ("PB", "T").
SELECT start_pos, end_pos, mention, entity_type
  FROM crag_extract_entities('Rats given phenobarbital (PB: 15 mg/kg) had lower testosterone (T) levels; PB also '
                             'lowered T in controls.')
 ORDER BY start_pos;
-- Empty or separator-only parentheses define nothing (and are no error).
SELECT mention, entity_type FROM crag_extract_entities('Lithium () and (: ) or ( , ) caused tremor ().')
 ORDER BY start_pos;
-- "hiv" is an exclusion (BC5CDR annotates "HIV infection", seldom the virus alone): the tagger's second "HIV" is dropped.
SELECT (SELECT count(*) FROM crag.models m, jsonb_array_elements(m.config->'refine'->'exclusions') x
         WHERE m.name = 'ner' AND m.active AND x->>'form' = 'hiv') AS hiv_excluded;
SELECT start_pos, end_pos, mention, entity_type
  FROM crag_extract_entities('Patients with HIV infection and venous thrombosis received heparin; HIV was controlled.')
 ORDER BY start_pos;
-- Relations: head, relation, tail with types; scores rounded (they are probabilities).
SELECT head, head_type, relation, tail, tail_type, round(score::numeric, 2) AS score
  FROM crag_extract_relations('A 63-year-old man developed acute renal failure two weeks after starting lithium for bipolar disorder.')
 ORDER BY head_start, tail_start;
SELECT head, relation, tail
  FROM crag_extract_relations('Intravenous azithromycin-induced ototoxicity.') ORDER BY head_start, tail_start;
-- Every relation obeys the type rules, and the offsets name the mentions (non-ASCII text: char offsets).
WITH t(note) AS (VALUES
  ('Fièvre et éruption cutanée sous amoxicilline 😀 — the rash resolved after the drug was stopped.'),
  ('Hepatotoxicity was attributed to isoniazid; rifampicin-induced thrombocytopenia followed.'),
  ('Metformin was started for type 2 diabetes. Cough and fever indicated pneumonia.'))
SELECT count(*) > 0 AS some_relations,
       bool_and(substr(note, head_start + 1, head_end - head_start) = head
                AND substr(note, tail_start + 1, tail_end - tail_start) = tail) AS offsets_exact,
       bool_and((relation, head_type, tail_type) IN (('treats', 'Drug', 'Disease'), ('causes', 'Disease', 'Symptom'),
                  ('indicates', 'Lab_Test', 'Disease'), ('indicates', 'Symptom', 'Disease'),
                  ('prevents', 'Drug', 'Disease'), ('prevents', 'Procedure', 'Disease'),
                  ('adverse_effect', 'Drug', 'Disease'), ('adverse_effect', 'Drug', 'Symptom'))) AS types_obey_rules,
       bool_and(score BETWEEN (SELECT (config->'relations'->>'threshold')::float8 FROM crag.models
                                WHERE name = 'ner' AND active) AND 1) AS scores_above_threshold
  FROM t, crag_extract_relations(note);
-- The batch form gives the same rows as one call per text; NULL elements give none.
WITH t(i, note) AS (VALUES (1, 'Hepatotoxicity was attributed to isoniazid.'), (2, NULL),
                           (3, 'Acute renal failure developed two weeks after starting lithium for bipolar disorder.')),
     single AS (SELECT i AS doc, r.head, r.relation, r.tail, round(r.score::numeric, 6) AS score
                  FROM t, crag_extract_relations(t.note) r),
     batch AS (SELECT doc, head, relation, tail, round(score::numeric, 6) AS score
                 FROM crag_extract_relations_batch((SELECT array_agg(note ORDER BY i) FROM t)))
SELECT (SELECT count(*) FROM single) AS single_rows, (SELECT count(*) FROM batch) AS batch_rows,
       NOT EXISTS (SELECT * FROM single EXCEPT SELECT * FROM batch)
       AND NOT EXISTS (SELECT * FROM batch EXCEPT SELECT * FROM single) AS same_rows;
-- A long text is windowed, not truncated: a relation at the end of a 5,000-character note is still found.
SELECT head, relation, tail, head_start
  FROM crag_extract_relations(repeat('The patient was seen in clinic and felt well. ', 110)
                              || 'Intravenous azithromycin-induced ototoxicity.');
-- Errors.
SELECT * FROM crag_extract_relations('');
SELECT * FROM crag_extract_relations_batch(ARRAY['ok', '  ']);
SELECT * FROM crag_extract_relations('fever', 'nope');
SELECT * FROM crag_extract_relations('fever after aspirin', 'relation');
SELECT count(*) AS no_rows_for_null FROM crag_extract_relations(NULL);
