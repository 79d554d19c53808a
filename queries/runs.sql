-- Pipeline runs, newest first, with their saved search and counts (JSON).
SELECT r.id, r.status, r.started, r.finished, s.query, r.model_version, r.counts, r.eutils_url
FROM runs r
LEFT JOIN searches s ON s.id = r.search_id
ORDER BY r.id DESC;
