SET search_path = public, crag;
\set VERBOSITY terse
-- Synthetic notes: row count, ids, determinism (same seed -> same rows, other seed -> other rows, default seed 42).
SELECT count(*) AS notes, count(DISTINCT doc_id) AS distinct_ids, min(doc_id) AS first_id, max(doc_id) AS last_id
  FROM crag_synth_notes(50);
SELECT (SELECT array_agg(text ORDER BY doc_id) FROM crag_synth_notes(20, 7))
         = (SELECT array_agg(text ORDER BY doc_id) FROM crag_synth_notes(20, 7)) AS same_seed_same_notes,
       (SELECT array_agg(text ORDER BY doc_id) FROM crag_synth_notes(20, 7))
         <> (SELECT array_agg(text ORDER BY doc_id) FROM crag_synth_notes(20, 8)) AS other_seed_other_notes,
       (SELECT array_agg(entities ORDER BY doc_id) FROM crag_synth_notes(5))
         = (SELECT array_agg(entities ORDER BY doc_id) FROM crag_synth_notes(5, 42)) AS default_seed_is_42;
SELECT jsonb_typeof(entities) AS entities, jsonb_typeof(relations) AS relations, count(*)
  FROM crag_synth_notes(10) GROUP BY 1, 2;
-- Default settings: 3..10 entity mentions and 1..4 relations per note.
SELECT min(jsonb_array_length(entities)) BETWEEN 3 AND 10 AND max(jsonb_array_length(entities)) BETWEEN 3 AND 10
         AS entities_in_range,
       min(jsonb_array_length(relations)) >= 1 AND max(jsonb_array_length(relations)) <= 4 AS relations_in_range
  FROM crag_synth_notes(500);
-- Offsets are character offsets: text[start:end] (Python) = substr(text, start + 1, end - start) (SQL, UTF-8).
-- ASCII mentions check in any encoding; all mentions need a UTF-8 database (non-ASCII: Sjögren's, β-blocker).
SELECT getdatabaseencoding() = 'UTF8' AS utf8_database,
       bool_and(substr(n.text, (e->>'start')::int + 1, (e->>'end')::int - (e->>'start')::int) = e->>'text')
         FILTER (WHERE n.text ~ '^[\x01-\x7f]*$') AS ascii_offsets_exact,
       bool_and(substr(n.text, (e->>'start')::int + 1, (e->>'end')::int - (e->>'start')::int) = e->>'text')
         AS all_offsets_exact,
       bool_or(e->>'text' ~ '[^\x01-\x7f]') AS some_non_ascii_mention
  FROM crag_synth_notes(500) n, jsonb_array_elements(n.entities) e;
-- Every relation obeys the type rules (head type, tail type per relation type).
WITH rules(rel, head, tail) AS (VALUES
  ('treats', 'Drug', 'Disease'), ('causes', 'Disease', 'Symptom'),
  ('indicates', 'Lab_Test', 'Disease'), ('indicates', 'Symptom', 'Disease'),
  ('prevents', 'Drug', 'Disease'), ('prevents', 'Procedure', 'Disease'),
  ('adverse_effect', 'Drug', 'Disease'), ('adverse_effect', 'Drug', 'Symptom'))
SELECT count(*) AS relations,
       count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM rules
                                           WHERE rel = r->>'type' AND head = r->'head'->>'type'
                                             AND tail = r->'tail'->>'type')) AS rule_violations,
       count(DISTINCT r->>'type') AS relation_types
  FROM crag_synth_notes(500) n, jsonb_array_elements(n.relations) r;
-- Evaluation worked by hand (the crag-core unit test example). Gold: Drug [0,9), Disease [14,38), Symptom [40,50),
-- Symptom [60,65). Predicted: Drug [0,9), Disease [14,29), Disease [40,50), Drug [0,9) again, Procedure [70,75).
-- exact: 1 tp -> P 1/5, R 1/4, F1 2/9 = 0.2222; partial: + the shorter Disease -> P 2/5, R 2/4, F1 4/9 = 0.4444;
-- type (span only): + the Disease on the Symptom span -> also 0.4444. The duplicate Drug is a false positive.
CREATE TABLE ner_demo (gold jsonb, pred jsonb);
INSERT INTO ner_demo VALUES (
  '{"id": "a", "text": "", "entities": [
      {"text": "x", "type": "Drug", "start": 0, "end": 9}, {"text": "x", "type": "Disease", "start": 14, "end": 38},
      {"text": "x", "type": "Symptom", "start": 40, "end": 50}, {"text": "x", "type": "Symptom", "start": 60, "end": 65}],
    "relations": [
      {"type": "treats", "head": {"text": "x", "type": "Drug", "start": 0, "end": 9},
                         "tail": {"text": "x", "type": "Disease", "start": 14, "end": 38}},
      {"type": "causes", "head": {"text": "x", "type": "Disease", "start": 14, "end": 38},
                         "tail": {"text": "x", "type": "Symptom", "start": 40, "end": 50}},
      {"type": "causes", "head": {"text": "x", "type": "Disease", "start": 14, "end": 38},
                         "tail": {"text": "x", "type": "Symptom", "start": 60, "end": 65}}]}',
  '{"id": "a", "entities": [
      {"text": "x", "type": "Drug", "start": 0, "end": 9}, {"text": "x", "type": "Disease", "start": 14, "end": 29},
      {"text": "x", "type": "Disease", "start": 40, "end": 50}, {"text": "x", "type": "Drug", "start": 0, "end": 9},
      {"text": "x", "type": "Procedure", "start": 70, "end": 75}],
    "relations": [
      {"type": "treats", "head": {"text": "x", "type": "Drug", "start": 0, "end": 9},
                         "tail": {"text": "x", "type": "Disease", "start": 14, "end": 29}},
      {"type": "causes", "head": {"text": "x", "type": "Disease", "start": 14, "end": 38},
                         "tail": {"text": "x", "type": "Symptom", "start": 40, "end": 50}},
      {"type": "causes", "head": {"text": "x", "type": "Disease", "start": 14, "end": 38},
                         "tail": {"text": "x", "type": "Symptom", "start": 40, "end": 50}},
      {"type": "prevents", "head": {"text": "x", "type": "Drug", "start": 0, "end": 9},
                           "tail": {"text": "x", "type": "Disease", "start": 14, "end": 38}}]}');
SELECT m AS mode, (r->'entities'->'micro'->>'tp')::int AS tp, (r->'entities'->'micro'->>'fp')::int AS fp,
       (r->'entities'->'micro'->>'fn')::int AS fn,
       round((r->'entities'->'micro'->>'precision')::numeric, 4) AS p,
       round((r->'entities'->'micro'->>'recall')::numeric, 4) AS r,
       round((r->'entities'->'micro'->>'f1')::numeric, 4) AS f1,
       round((r->'entities'->'macro'->>'f1')::numeric, 4) AS macro_f1
  FROM ner_demo, unnest(ARRAY['exact', 'partial', 'type']) m, crag_ner_evaluate(gold, pred, m) r;
-- Relations: strict 1 tp of 4 predictions, 3 gold -> F1 2/7 = 0.2857; lenient (types only, multiset) 3 tp -> 6/7.
SELECT round((r->'relations_strict'->'micro'->>'f1')::numeric, 4) AS strict_f1,
       round((r->'relations_lenient'->'micro'->>'f1')::numeric, 4) AS lenient_f1,
       round((r->'relations_lenient'->'macro'->>'f1')::numeric, 4) AS lenient_macro_f1,
       r->>'entity_mode' AS mode
  FROM ner_demo, crag_ner_evaluate(gold, pred) r;
-- Empty predictions and empty gold give 0, not NaN.
SELECT (r->'entities'->'micro'->>'f1')::float8 AS f1, (r->'entities'->'micro'->>'fn')::int AS fn
  FROM ner_demo, crag_ner_evaluate(gold, '{"id": "a"}') r;
SELECT (r->'entities'->'micro'->>'f1')::float8 AS f1, (r->'entities'->'macro'->>'types')::int AS types
  FROM crag_ner_evaluate('[]', '[]') r;
-- Synthetic notes scored against themselves: F1 = 1 everywhere.
WITH d AS (SELECT jsonb_agg(jsonb_build_object('id', doc_id::text, 'text', text, 'entities', entities,
                                               'relations', relations)) AS docs
             FROM crag_synth_notes(100, 3))
SELECT (r->'entities'->'micro'->>'f1')::float8 AS entity_f1, (r->'relations_strict'->'micro'->>'f1')::float8 AS rel_f1,
       (r->>'documents')::int AS documents
  FROM d, crag_ner_evaluate(d.docs, d.docs, 'partial') r;
-- NULL in, nothing out (strict).
SELECT count(*) AS rows_for_null FROM crag_synth_notes(NULL);
SELECT crag_ner_evaluate(NULL, '[]') IS NULL AS null_for_null;
-- Input errors (SQLSTATE 22023).
SELECT * FROM crag_synth_notes(0);
SELECT * FROM crag_synth_notes(100001);
SELECT crag_ner_evaluate(gold, pred, 'strict') FROM ner_demo;
SELECT crag_ner_evaluate('42', '[]');
SELECT crag_ner_evaluate('[{"id": "a", "entities": [{"text": "x", "type": "Gene", "start": 0, "end": 1}]}]', '[]');
SELECT crag_ner_evaluate(gold, '{"id": "b"}') FROM ner_demo;
DROP TABLE ner_demo;
