-- The stored values of one drug and parameter that pooling reads: point estimates (no
-- inequalities) with their statistic, n, dispersion in canonical units, and the facets a pool
-- may be split by. Flagged values are left out unless $flagged is 1.
-- $drug       drug name, case-insensitive
-- $parameter  canonical parameter key, e.g. CL
-- $flagged    1 to include values that carry flags [default: '0']
SELECT id, pmid, source, table_label, group_label, statistic, measurement_type,
       value_canonical, deviation_type, deviation_canonical, n, unit,
       population, species, route, flags
FROM measurements
WHERE lower(drug) = lower($drug)
  AND parameter = $parameter
  AND (comparator IS NULL OR comparator NOT IN ('<', '>', '<=', '>=', '≤', '≥', '=<', '=>'))
  AND ($flagged = '1' OR flags IS NULL OR len(flags) = 0)
ORDER BY pmid, id;
