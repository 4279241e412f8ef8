SET search_path = public, crag;
\set VERBOSITY default
-- Wrong dimensions name the expected and actual sizes.
SELECT crag_dti(ARRAY[1, 2, 3]::real[], (SELECT prot_vec FROM pairs WHERE id = 1));
SELECT crag_dti((SELECT drug_vec FROM pairs WHERE id = 1), ARRAY[1]::real[]);
SELECT crag_dti('{}'::real[], (SELECT prot_vec FROM pairs WHERE id = 1));
-- NaN, infinity and NULL elements.
SELECT crag_dti((SELECT drug_vec[1:9] || 'NaN'::real || drug_vec[11:] FROM pairs WHERE id = 1), (SELECT prot_vec FROM pairs WHERE id = 1));
SELECT crag_dti((SELECT drug_vec FROM pairs WHERE id = 1), (SELECT prot_vec[1:419] || '-Infinity'::real FROM pairs WHERE id = 1));
SELECT crag_dti((SELECT drug_vec[1:9] || NULL::real || drug_vec[11:] FROM pairs WHERE id = 1), (SELECT prot_vec FROM pairs WHERE id = 1));
-- Unknown model lists what exists.
SELECT crag_dti(drug_vec, prot_vec, 'nosuch') FROM pairs WHERE id = 1;
-- k must be positive.
SELECT * FROM crag_topk_adr((SELECT drug_vec FROM pairs WHERE id = 1), (SELECT prot_vec FROM pairs WHERE id = 1), 0);
SELECT * FROM crag_topk_adr((SELECT drug_vec FROM pairs WHERE id = 1), (SELECT prot_vec FROM pairs WHERE id = 1), -3);
-- Batches: rows must pair up, and a bad row is named.
SELECT crag_dti_batch((SELECT array_agg(drug_vec) FROM pairs WHERE id <= 3), (SELECT array_agg(prot_vec) FROM pairs WHERE id <= 2));
SELECT crag_dti_batch((SELECT array_agg(drug_vec) FROM pairs WHERE id <= 3),
                      (SELECT array_agg(CASE WHEN id = 3 THEN prot_vec[1:419] || 'NaN'::real ELSE prot_vec END ORDER BY id) FROM pairs WHERE id <= 3));
SELECT crag_dti('{{{1}}}'::real[], (SELECT prot_vec FROM pairs WHERE id = 1));
SELECT crag_dti((SELECT array_agg(drug_vec) FROM pairs WHERE id <= 2), (SELECT prot_vec FROM pairs WHERE id = 1));
-- STRICT: NULL arguments give NULL.
SELECT crag_dti(NULL, NULL) IS NULL AS null_in_null_out;
-- SQLSTATEs.
CREATE FUNCTION pg_temp.sqlstate(q text) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'ok'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $$;
SELECT pg_temp.sqlstate('SELECT crag_dti(ARRAY[1]::real[], ARRAY[1]::real[])') AS wrong_dim,
       pg_temp.sqlstate('SELECT crag_dti(ARRAY[NULL]::real[], ARRAY[1]::real[])') AS null_element,
       pg_temp.sqlstate('SELECT crag_dti(ARRAY[1]::real[], ARRAY[1]::real[], ''nosuch'')') AS unknown_model,
       pg_temp.sqlstate('SELECT crag_topk_adr(ARRAY[1]::real[], ARRAY[1]::real[], 0)') AS bad_k,
       pg_temp.sqlstate('SELECT crag.import_model(''/nonexistent'')') AS missing_dir;
-- The backend and the model survive every error above.
SELECT round(crag_dti(drug_vec, prot_vec)::numeric, 4) AS still_serving FROM pairs WHERE id = 1;
