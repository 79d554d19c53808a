-- The evidence for one drug and parameter: each value with its unit, the sentence it was read
-- from (a table cell's evidence text for a table value), PMID, PubMed link, character offsets
-- (relative to the sentence), where it was read (source, table), the group it describes, the
-- deviation in the canonical unit, and whether its flags leave it out of summaries and pooling.
-- $drug       drug name, case-insensitive
-- $parameter  canonical parameter key, e.g. clearance
SELECT pmid, drug, parameter, measurement_type, comparator, value_text, value, value_low,
       value_high, unit_text, value_canonical, unit, deviation_text, deviation_type,
       deviation_canonical,
       parameter_text, sentence, sentence_idx, section, parameter_start, parameter_end,
       value_start, value_end, pubmed_url, flags, measurement_id, source, table_label,
       group_label, n, statistic, left_out_by_flags
FROM evidence
WHERE lower(drug) = lower($drug)
  AND parameter = $parameter
ORDER BY pmid, sentence_idx, parameter_start, table_id, "row", col;
