SET search_path = public, crag;
\set VERBOSITY terse
SELECT round(crag_dti(drug_vec, prot_vec)::numeric, 4) AS v1 FROM pairs WHERE id = 1;
-- Register a second version (same graph, different ADR prototypes) without activating it.
SELECT crag.register_model('dti', 'dti_adr', onnx, config, '{"note": "regression copy"}') AS new_version
  FROM crag.models WHERE name = 'dti' AND version = 1;
INSERT INTO crag.adr_terms SELECT model, 2, adr_index, term, meddra_id FROM crag.adr_terms WHERE model = 'dti' AND version = 1;
INSERT INTO crag.adr_prototypes
SELECT model, 2, adr_index, ARRAY(SELECT -x FROM unnest(prototype) x) FROM crag.adr_prototypes WHERE model = 'dti' AND version = 1;
SELECT name, version, active FROM crag.models_overview;
-- Activate v2: the same backend follows it (negated prototypes reverse the ADR ranking).
SELECT crag.activate_model('dti', 2);
SELECT t.rank, t.adr_index FROM pairs p, crag_topk_adr(p.drug_vec, p.prot_vec, 3) t WHERE p.id = 1 ORDER BY t.rank;
SELECT crag.rollback_model('dti');
SELECT t.rank, t.adr_index FROM pairs p, crag_topk_adr(p.drug_vec, p.prot_vec, 3) t WHERE p.id = 1 ORDER BY t.rank;
SELECT name, version, active FROM crag.models_overview;
-- Registry rules.
SELECT crag.drop_model('dti', 1);
SELECT crag.activate_model('dti', 7);
SELECT crag.activate_model('nosuch');
SELECT crag.rollback_model('dti');
UPDATE crag.models SET active = true WHERE name = 'dti' AND version = 2;
UPDATE crag.models SET sha256 = repeat('0', 64) WHERE name = 'dti' AND version = 2;
SELECT crag.register_model('Bad Name', 'dti_adr', '\x00'::bytea, '{}');
SELECT crag.register_model('other', 'unknown_kind', '\x00'::bytea, '{}');
SELECT crag.drop_model('dti', 2);
SELECT name, version, active FROM crag.models_overview;
SELECT count(*) AS orphan_prototypes FROM crag.adr_prototypes WHERE version = 2;
