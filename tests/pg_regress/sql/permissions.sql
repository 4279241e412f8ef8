SET search_path = public, crag;
\set VERBOSITY terse
CREATE ROLE crag_analyst NOLOGIN;
SET ROLE crag_analyst;
-- Readers score without superuser and see the registry.
SELECT round(crag_dti(drug_vec, prot_vec)::numeric, 4) AS p_bind FROM pairs WHERE id = 1;
SELECT name, version, active FROM crag.models_overview;
-- Writing is for the extension owner.
SELECT crag.activate_model('dti', 1);
SELECT crag.rollback_model('dti');
SELECT crag.register_model('x', 'dti_adr', '\x00'::bytea, '{}');
SELECT crag.set_adr_vocabulary('dti', 1, ARRAY['a'], ARRAY['C1'], ARRAY[1]::real[], 1);
SELECT crag.import_model('/tmp');
SELECT crag.import_default_models();
DELETE FROM crag.models;
UPDATE crag.adr_prototypes SET prototype = '{0}';
INSERT INTO crag.adr_terms VALUES ('dti', 1, 999, 'x', NULL);
-- Only superusers may point the backend at another ONNX Runtime library.
SET crag.onnxruntime_library = '/tmp/libevil.so';
RESET ROLE;
DROP ROLE crag_analyst;
