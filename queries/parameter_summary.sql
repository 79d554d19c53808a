-- Summary statistics per drug × parameter × measurement type × canonical unit, over point
-- estimates in canonical units: articles, values, median, IQR (q1, q3), geometric mean and
-- geometric CV (over positive values only), min, max, flagged values.
-- $drug       drug name, case-insensitive; empty = all drugs [default: '']
-- $parameter  canonical parameter key, e.g. clearance; empty = all parameters [default: '']
SELECT *
FROM parameter_summary
WHERE ($drug = '' OR drug = lower($drug))
  AND ($parameter = '' OR parameter = $parameter)
ORDER BY drug NULLS LAST, parameter, n_values DESC, measurement_type NULLS LAST, unit NULLS LAST;
