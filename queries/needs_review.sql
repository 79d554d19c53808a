-- Measurements to check by hand: those flagged by normalisation (e.g. a unit that does not fit
-- the parameter), those whose unit was not recognised, and outliers: values far from the pooled
-- distribution of their drug × parameter × measurement type × unit, i.e.
-- |ln(value) - median ln| > $k · MAD, with MAD = 1.4826 · median |ln(value) - median ln| (scaled to
-- estimate an SD) over groups with at least $min_n positive values and MAD > 0.
-- $drug       drug name, case-insensitive; empty = all drugs [default: '']
-- $parameter  canonical parameter key; empty = all parameters [default: '']
-- $k          outlier threshold in scaled MADs [default: 3]
-- $min_n      smallest group checked for outliers [default: 5]
WITH base AS (
    SELECT m.*,
           CASE WHEN m.value_canonical > 0 AND isfinite(m.value_canonical)
                THEN ln(m.value_canonical) END AS lx
    FROM measurements m
    WHERE ($drug = '' OR lower(m.drug) = lower($drug))
      AND ($parameter = '' OR m.parameter = $parameter)
),
centred AS (
    SELECT *,
           median(lx) OVER g AS med,
           count(lx) OVER g AS n_group
    FROM base
    WINDOW g AS (PARTITION BY lower(drug), parameter, measurement_type, unit)
),
spread AS (
    SELECT *,
           1.4826 * median(abs(lx - med)) OVER g AS mad
    FROM centred
    WINDOW g AS (PARTITION BY lower(drug), parameter, measurement_type, unit)
),
scored AS (
    SELECT *,
           CASE WHEN lx IS NOT NULL AND mad > 0 AND n_group >= CAST($min_n AS INTEGER)
                THEN abs(lx - med) / mad END AS robust_z
    FROM spread
),
reviewed AS (
    SELECT *,
           list_concat(
               coalesce(flags, []),
               CASE WHEN unit_text IS NOT NULL AND unit IS NULL
                    THEN ['unit not recognised'] ELSE [] END,
               CASE WHEN robust_z > CAST($k AS DOUBLE)
                    THEN ['outlier: ' || round(robust_z, 1) || ' MADs from the median']
                    ELSE [] END
           ) AS reasons
    FROM scored
)
SELECT r.pmid, r.drug, r.parameter, r.measurement_type, r.value_text, r.unit_text,
       r.value_canonical, r.unit, exp(r.med) AS group_median, r.n_group, r.robust_z,
       r.reasons, s.text AS sentence, 'https://pubmed.ncbi.nlm.nih.gov/' || r.pmid || '/' AS pubmed_url,
       r.id AS measurement_id
FROM reviewed r
LEFT JOIN sentences s ON s.pmid = r.pmid AND s.idx = r.sentence_idx
WHERE len(r.reasons) > 0
ORDER BY r.robust_z DESC NULLS LAST, r.pmid, r.sentence_idx, r.parameter_start;
