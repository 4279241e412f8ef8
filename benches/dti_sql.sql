-- SQL benchmark of the DTI/ADR serving path. Run by scripts/bench-dti.sh (psql, \timing).
\set ON_ERROR_STOP 1
SET search_path = public, crag;
DROP TABLE IF EXISTS bench_pairs;
CREATE TABLE bench_pairs AS
SELECT i AS id,
       ARRAY(SELECT ((hashtext(i::text || '-' || j) & 15) = 0)::int::real FROM generate_series(1, 2048) j) AS drug_vec,
       ARRAY(SELECT (abs(hashtext(j::text || '/' || i)) % 100 / 1000.0)::real FROM generate_series(1, 420) j) AS prot_vec
  FROM generate_series(1, :n) i;
ANALYZE bench_pairs;
SET max_parallel_workers_per_gather = 0;
\timing on
\echo '-- crag_dti per row'
SELECT count(*) FILTER (WHERE crag_dti(drug_vec, prot_vec) > 0.5) FROM bench_pairs;
\echo '-- crag_dti_batch (crag.batch_size = 256)'
SELECT count(*) FILTER (WHERE p > 0.5) FROM unnest((SELECT crag_dti_batch(array_agg(drug_vec ORDER BY id), array_agg(prot_vec ORDER BY id)) FROM bench_pairs)) p;
\echo '-- crag_topk_adr per row, k = 10'
SELECT count(*) FROM bench_pairs, crag_topk_adr(drug_vec, prot_vec, 10);
\echo '-- crag_topk_adr_batch, k = 10'
SELECT count(*) FROM crag_topk_adr_batch((SELECT array_agg(drug_vec ORDER BY id) FROM bench_pairs), (SELECT array_agg(prot_vec ORDER BY id) FROM bench_pairs), 10);
\timing off
DROP TABLE bench_pairs;
