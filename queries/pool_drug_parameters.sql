-- The parameters stored for one drug, with the number of values of each (what `pkharvest pool`
-- names when a drug has no value of the parameter asked for).
-- $drug  drug name, case-insensitive
SELECT parameter, count(*) AS n_values
FROM measurements
WHERE lower(drug) = lower($drug) AND parameter IS NOT NULL
GROUP BY parameter
ORDER BY n_values DESC, parameter;
