-- crag_score with the packaged relation model: real sentences, the four forms, truncation and errors.
SET search_path = public, crag;
SELECT name, kind, active, (config->>'max_len')::int AS max_len, config->>'precision' AS precision,
       (config->>'threshold')::float8 BETWEEN 0 AND 1 AS threshold_is_probability
  FROM crag.models WHERE name = 'relation';
-- A causal pair scores high; the same drug with the condition it was given for scores lower.
SELECT crag_score('Intravenous [DRUG]azithromycin[/DRUG]-induced ototoxicity.',
                  'Intravenous azithromycin-induced [ADR]ototoxicity[/ADR].') > 0.5 AS causal_pair_high;
SELECT crag_score_sentence('Unaccountable severe hypercalcemia in a patient treated for hypoparathyroidism with dihydrotachysterol.',
                           'dihydrotachysterol', 'hypercalcemia')
     > crag_score_sentence('Unaccountable severe hypercalcemia in a patient treated for hypoparathyroidism with dihydrotachysterol.',
                           'dihydrotachysterol', 'hypoparathyroidism') AS effect_above_indication;
-- Two contexts from two sentences of one record (the relation model card's example) and its indication twin: the
-- drug given for pain, then a bleed (an adverse reaction) or the pain resolving (the indication, not a reaction).
-- 'causal' compares with the model's threshold (config->'threshold').
WITH m AS (SELECT (config->>'threshold')::float8 AS thr FROM crag.models WHERE name = 'relation' AND active),
p(i, pair, drug_text, adr_text) AS (VALUES
  (1, 'card example', 'Patient was prescribed [DRUG]aspirin[/DRUG] for pain management.',
      'The patient experienced [ADR]gastrointestinal bleeding[/ADR].'),
  (2, 'indication twin', 'Patient was prescribed [DRUG]aspirin[/DRUG] for pain management.',
      'The patient''s [ADR]pain[/ADR] resolved.'),
  (3, 'card example, unmarked', 'Patient was prescribed aspirin for pain management.',
      'The patient experienced gastrointestinal bleeding.'),
  (4, 'one sentence, indication', '[DRUG]Paracetamol[/DRUG] was given for fever.',
      'Paracetamol was given for [ADR]fever[/ADR].'))
SELECT pair, round(crag_score(drug_text, adr_text)::numeric, 2) AS p_causal,
       crag_score(drug_text, adr_text) >= thr AS causal
  FROM p, m ORDER BY i;
-- The sentence form equals crag_score on the contexts it builds.
SELECT abs(crag_score_sentence('Intravenous azithromycin-induced ototoxicity.', 'AZITHROMYCIN', 'Ototoxicity')
         - crag_score('Intravenous [DRUG]azithromycin[/DRUG]-induced ototoxicity.',
                      'Intravenous azithromycin-induced [ADR]ototoxicity[/ADR].')) < 1e-6 AS sentence_form_consistent;
-- Batch forms equal row forms, NULL elements give NULL, several ONNX Runtime calls per array.
SET crag.batch_size = 2;
WITH t(i, d, a) AS (VALUES
  (1, 'Intravenous [DRUG]azithromycin[/DRUG]-induced ototoxicity.', 'Intravenous azithromycin-induced [ADR]ototoxicity[/ADR].'),
  (2, NULL, 'x'),
  (3, 'Rash after [DRUG]amoxicillin[/DRUG].', '[ADR]Rash[/ADR] after amoxicillin.'),
  (4, 'Severe [DRUG]lithium[/DRUG] toxicity.', 'Severe lithium [ADR]toxicity[/ADR].'),
  (5, '[DRUG]Aspirin[/DRUG] for headache.', 'Aspirin for [ADR]headache[/ADR].')),
b AS (SELECT crag_score_batch(array_agg(d ORDER BY i), array_agg(a ORDER BY i)) AS p FROM t)
SELECT t.i, b.p[t.i] IS NULL AS is_null,
       abs(b.p[t.i] - crag_score(t.d, t.a)) < 1e-6 AS equals_row_form
  FROM t, b ORDER BY t.i;
SELECT cardinality(crag_score_sentence_batch(ARRAY['Rash after amoxicillin.', 'Lithium toxicity.'],
                                             ARRAY['amoxicillin', 'lithium'], ARRAY['rash', 'toxicity'])) AS n;
RESET crag.batch_size;
-- Nested mentions (as ADE Corpus V2 annotates them) are fine: each context marks one mention.
SELECT crag_score_sentence('Codeine intoxication in a child.', 'codeine', 'codeine intoxication') BETWEEN 0 AND 1 AS nested_ok;
-- Long texts are truncated to max_len tokens, not rejected.
SELECT crag_score('[DRUG]Azithromycin[/DRUG] ' || repeat('was continued for several weeks and ', 200),
                  '[ADR]Ototoxicity[/ADR].') BETWEEN 0 AND 1 AS long_text_scored;
-- A long context keeps the window around its marked mention (a whole abstract as the drug context): with the
-- mention 400 words in, the marked text no longer scores like its unmarked copy, whose first pieces are kept.
SELECT crag_score(repeat('The cohort was followed for several years. ', 50) || 'Then [DRUG]aspirin[/DRUG] was started.',
                  '[ADR]Gastrointestinal bleeding[/ADR] followed.')
    <> crag_score(repeat('The cohort was followed for several years. ', 50) || 'Then aspirin was started.',
                  '[ADR]Gastrointestinal bleeding[/ADR] followed.') AS marked_window_kept;
-- Errors.
SELECT crag_score('', 'rash');
SELECT crag_score('[DRUG]x[/DRUG]', '   ');
SELECT crag_score_sentence('Rash after amoxicillin.', 'aspirin', 'rash');
SELECT crag_score_sentence('Rash after amoxicillin.', 'amoxicillin', 'fever');
SELECT crag_score_batch(ARRAY['a'], ARRAY['b', 'c']);
SELECT crag_score_sentence_batch(ARRAY['Rash.'], ARRAY['x'], ARRAY['rash']);
SELECT crag_score('a', 'b', 'no_such_model');
SELECT crag_score('a', 'b', 'dti');
SELECT crag_score(NULL, 'rash') IS NULL AS strict_null;
CREATE FUNCTION pg_temp.sqlstate(q text) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'ok'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $$;
SELECT pg_temp.sqlstate('SELECT crag_score('''', ''x'')') AS empty_text,
       pg_temp.sqlstate('SELECT crag_score_sentence(''Rash.'', ''x'', ''rash'')') AS mention_missing,
       pg_temp.sqlstate('SELECT crag_score(''a'', ''b'', ''nosuch'')') AS unknown_model,
       pg_temp.sqlstate('SELECT crag_score(''a'', ''b'', ''dti'')') AS wrong_kind;
