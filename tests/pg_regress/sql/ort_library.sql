-- A fresh backend: ONNX Runtime is not loaded yet, so a bad crag.onnxruntime_library is a clean ERROR.
SET search_path = public, crag;
\set VERBOSITY default
SELECT crag.runtime_info() -> 'onnxruntime_library' AS loaded_before;
SET crag.onnxruntime_library = '/nonexistent/libonnxruntime.so';
SELECT crag_dti(drug_vec, prot_vec) FROM pairs WHERE id = 1;
-- A file that is not ONNX Runtime.
SET crag.onnxruntime_library = '/usr/lib/postgresql/15/lib/crag.so';
SELECT crag_dti(drug_vec, prot_vec) FROM pairs WHERE id = 1;
-- Back to the configured library: the same backend recovers.
RESET crag.onnxruntime_library;
SELECT round(crag_dti(drug_vec, prot_vec)::numeric, 4) AS p_bind FROM pairs WHERE id = 1;
SELECT crag.runtime_info() -> 'onnxruntime_library' IS NOT NULL AS loaded_after;
-- Settings and their bounds.
SET crag.threads = 0;
SET crag.threads = 2;
SET crag.device = 'tpu';
SET crag.device = 'cuda';
SET client_min_messages = warning;
SELECT round(crag_dti(drug_vec, prot_vec)::numeric, 4) AS p_bind_cuda_or_fallback FROM pairs WHERE id = 1;
RESET client_min_messages;
SET crag.batch_size = 0;
SELECT name, setting, context FROM pg_settings WHERE name LIKE 'crag.%' AND name <> 'crag.onnxruntime_library' ORDER BY name;
