SET search_path = public, crag;
\set VERBOSITY terse
-- Dimensions and determinism.
SELECT array_length(crag_drug_features('CC(=O)Oc1ccccc1C(=O)O'), 1) AS drug_dim,
       array_length(crag_protein_features('MKTAYIAKQRQISFVKSHFSRQ'), 1) AS protein_dim;
SELECT crag_drug_features('CCO') = crag_drug_features('CCO') AS deterministic,
       (SELECT sum(x) FROM unnest(crag_drug_features('C')) x) AS methane_environments;
-- The same molecule written differently gives the same vector and structure key (aromatic vs Kekulé, atom order).
SELECT crag_drug_features('c1ccccc1O') = crag_drug_features('OC1=CC=CC=C1') AS phenol_same_vector,
       crag_structure_key('CC(=O)O.[Na+]') = crag_structure_key('OC(C)=O') AS salt_stripped_key,
       crag_structure_key('CCO') AS ethanol_key;
-- Protein composition sums to 1 per block.
SELECT round(sum(x) FILTER (WHERE i <= 20)::numeric, 6) AS aac_sum, round(sum(x) FILTER (WHERE i > 20)::numeric, 6) AS dpc_sum
  FROM unnest(crag_protein_features('mktayiakqrqisfvkshfsrq')) WITH ORDINALITY u(x, i);
-- Errors name the position.
SELECT crag_drug_features('C1CC');
SELECT crag_drug_features('CC(C');
SELECT crag_drug_features('CXxC');
SELECT crag_drug_features('');
SELECT crag_protein_features('MKT1AY');
-- End to end: SMILES and sequence straight into the model.
SELECT round(crag_dti(crag_drug_features('CC(=O)Oc1ccccc1C(=O)O'), crag_protein_features('MKTAYIAKQRQISFVKSHFSRQ'))::numeric, 4) AS p_bind;
