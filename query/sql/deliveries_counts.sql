-- How many deliveries of each outcome a backend had since a time (docs/contract.md §16.7): per
-- refusal outcome (`refusal`), its receipts; for the accepted ones (`refusal` empty), three
-- counts of distinct receipts the service takes changed, unchanged and parked from: a receipt
-- projected twice has a row per projection and counts once, as its best (changed above
-- unchanged above parked), before and after merges alike.
-- A key range: (downstream_repo, accepted from 0 to 1, received_at).
SELECT
    if(accepted = 1, '', outcome) AS refusal,
    uniqExact(receipt_id) AS receipts,
    uniqExactIf(receipt_id, rank >= 2) AS unchanged_or_better,
    uniqExactIf(receipt_id, rank >= 3) AS changed
FROM {deliveries}
WHERE downstream_repo = ? AND accepted >= 0 AND accepted <= 1
  AND received_at >= toDateTime(?)
GROUP BY refusal
