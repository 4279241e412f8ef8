SET search_path = public, crag;
-- p_bind is a probability, per row and in batch, and the two agree.
SELECT id, round(crag_dti(drug_vec, prot_vec)::numeric, 4) AS p_bind FROM pairs WHERE id <= 5 ORDER BY id;
SELECT count(*) AS out_of_range FROM pairs WHERE crag_dti(drug_vec, prot_vec) NOT BETWEEN 0 AND 1;
SET crag.batch_size = 7;
WITH b AS (SELECT crag_dti_batch(array_agg(drug_vec ORDER BY id), array_agg(prot_vec ORDER BY id)) AS p FROM pairs)
SELECT array_length(p, 1) AS n,
       (SELECT count(*) FROM pairs WHERE abs(crag_dti(drug_vec, prot_vec) - p[id]) > 1e-6) AS mismatches
  FROM b;
RESET crag.batch_size;
-- crag.dequantize_once folds the int8 weights when the session is (re)built: the same outputs.
CREATE TEMP TABLE per_run AS SELECT id, crag_dti(drug_vec, prot_vec) AS p FROM pairs;
SET crag.dequantize_once = on;
SELECT count(*) AS pairs, count(*) FILTER (WHERE abs(crag_dti(drug_vec, prot_vec) - r.p) > 1e-6) AS differ
  FROM pairs JOIN per_run r USING (id);
SELECT r->>'model' AS model, r->>'dequantize_once' AS dequantize_once
  FROM jsonb_array_elements(crag.runtime_info()->'sessions') r ORDER BY 1;
RESET crag.dequantize_once;
-- Top-10 ADRs for one pair: ranks 1..10, scores descending, joint = p_bind * score, no masked ADR.
SELECT t.rank, t.adr_index, t.term, round(t.score::numeric, 4) AS score, round(t.joint_score::numeric, 4) AS joint
  FROM pairs p, crag_topk_adr(p.drug_vec, p.prot_vec) t WHERE p.id = 1 ORDER BY t.rank;
SELECT bool_and(abs(t.joint_score - crag_dti(p.drug_vec, p.prot_vec) * t.score) < 1e-6) AS joint_is_product,
       bool_and(NOT EXISTS (SELECT 1 FROM crag.adr_prototypes z WHERE z.model = 'dti' AND z.adr_index = t.adr_index
                              AND NOT EXISTS (SELECT 1 FROM unnest(z.prototype) x WHERE x <> 0))) AS masked_never_returned
  FROM pairs p, crag_topk_adr(p.drug_vec, p.prot_vec, 100000) t WHERE p.id <= 3;
-- Every ADR with a prototype is ranked, none without.
SELECT (SELECT count(*) FROM crag_topk_adr((SELECT drug_vec FROM pairs WHERE id = 2), (SELECT prot_vec FROM pairs WHERE id = 2), 100000))
     = (SELECT adr_prototypes FROM crag.models_overview WHERE name = 'dti' AND active) AS all_prototyped_adrs_ranked;
-- Batch top-k: one row per (pair, rank), equal to the per-row function.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE s.adr_index IS DISTINCT FROM b.adr_index) AS differ
  FROM crag_topk_adr_batch((SELECT array_agg(drug_vec ORDER BY id) FROM pairs WHERE id <= 4),
                           (SELECT array_agg(prot_vec ORDER BY id) FROM pairs WHERE id <= 4), 5) b
  JOIN pairs p ON p.id = b.pair
  LEFT JOIN LATERAL crag_topk_adr(p.drug_vec, p.prot_vec, 5) s ON s.rank = b.rank;
-- The functions are parallel safe and declared with their volatility.
SELECT proname, provolatile, proparallel, proisstrict
  FROM pg_proc WHERE pronamespace = 'crag'::regnamespace AND proname LIKE 'crag\_%' ORDER BY proname;
SELECT (crag.runtime_info() -> 'sessions' -> 0 ->> 'model') AS cached_model,
       (crag.runtime_info() -> 'sessions' -> 0 ->> 'device') AS device;
