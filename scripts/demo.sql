-- CRAG demo: run by scripts/demo.sh as the postgres superuser against database crag_demo.
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS crag;
SET search_path = public, crag;

\echo '== default models (imported from $sharedir/extension/crag_models) =='
SELECT * FROM crag.import_default_models();
SELECT name, version, kind, active, size, adr_terms, adr_prototypes, sha256 FROM crag.models_overview;

-- A small literature table: drug-target pairs mentioned in documents, with their input vectors.
-- Until crag_drug_features/crag_protein_features land, the vectors are placeholders derived from the names
-- (a sparse 1024-bit fingerprint-like vector and a 420-value composition-like vector), and the default dti model
-- has seeded, untrained weights: the numbers below show the serving path, not pharmacology.
DROP TABLE IF EXISTS demo_literature;
CREATE TABLE demo_literature (doc_id int PRIMARY KEY, drug text, target text, sentence text);
INSERT INTO demo_literature VALUES
  (1, 'imatinib',     'ABL1',   'Imatinib inhibits the BCR-ABL1 tyrosine kinase in chronic myeloid leukaemia.'),
  (2, 'gefitinib',    'EGFR',   'Gefitinib targets EGFR in non-small-cell lung cancer with activating mutations.'),
  (3, 'warfarin',     'VKORC1', 'Warfarin dosing depends on VKORC1 genotype.'),
  (4, 'atorvastatin', 'HMGCR',  'Atorvastatin is a competitive inhibitor of HMG-CoA reductase.'),
  (5, 'omeprazole',   'ATP4A',  'Omeprazole irreversibly blocks the gastric H+/K+ ATPase.'),
  (6, 'celecoxib',    'PTGS2',  'Celecoxib selectively inhibits cyclooxygenase-2.');
CREATE TEMP VIEW demo_pairs AS
SELECT l.*,
       ARRAY(SELECT ((hashtext(l.drug || i) & 15) = 0)::int::real FROM generate_series(1, 1024) i) AS drug_vec,
       ARRAY(SELECT (abs(hashtext(l.target || i)) % 100 / 1000.0)::real FROM generate_series(1, 420) i) AS prot_vec
  FROM demo_literature l;

\echo '== crag_dti: binding probability per pair =='
SELECT doc_id, drug, target, round(crag_dti(drug_vec, prot_vec)::numeric, 4) AS p_bind
  FROM demo_pairs ORDER BY doc_id;

\echo '== crag_topk_adr: top-10 ADRs for imatinib / ABL1 =='
SELECT t.rank, t.term, m.meddra_id, round(t.score::numeric, 4) AS score, round(t.joint_score::numeric, 4) AS joint_score
  FROM demo_pairs p
  CROSS JOIN LATERAL crag_topk_adr(p.drug_vec, p.prot_vec, 10) t
  JOIN crag.adr_terms m ON m.model = 'dti' AND m.version = 1 AND m.adr_index = t.adr_index
 WHERE p.drug = 'imatinib'
 ORDER BY t.rank;

\echo '== crag_dti_batch: one ONNX Runtime call for the whole table =='
WITH b AS (SELECT array_agg(doc_id ORDER BY doc_id) AS ids,
                  crag_dti_batch(array_agg(drug_vec ORDER BY doc_id), array_agg(prot_vec ORDER BY doc_id)) AS p
             FROM demo_pairs)
SELECT ids[i] AS doc_id, round(p[i]::numeric, 4) AS p_bind FROM b, generate_subscripts(b.p, 1) i ORDER BY 1;
