-- The stored values of one drug and parameter that pooling reads: point estimates (no
-- inequalities) with their statistic, n, dispersion in canonical units, and the facets a pool
-- may be split by. Values whose flags leave them out (the evidence view's left_out_by_flags;
-- see pkharvest.flags) are left out unless $flagged is 1.
-- $drug       drug name, case-insensitive
-- $parameter  canonical parameter key, e.g. CL
-- $flagged    1 to include values whose flags leave them out by default [default: '0']
SELECT measurement_id AS id, pmid, source, table_label, group_label, statistic,
       measurement_type, value_canonical, deviation_type, deviation_canonical, n, unit,
       population, species, route, flags
FROM evidence
WHERE lower(drug) = lower($drug)
  AND parameter = $parameter
  AND (comparator IS NULL OR comparator NOT IN ('<', '>', '<=', '>=', '≤', '≥', '=<', '=>'))
  AND ($flagged = '1' OR NOT left_out_by_flags)
ORDER BY pmid, measurement_id;
