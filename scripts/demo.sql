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
