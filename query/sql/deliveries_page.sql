-- One slice of a backend's delivery log, newest first (docs/contract.md §16.7): the receipts it
-- received in [from, until) of the kinds asked (accepted between two bounds: 0 and 1 for both
-- kinds, 1 and 1 for accepted callbacks, 0 and 0 for refused ones), each receipt once with its
-- best row (the highest rank: a batch projected twice after a crash wrote its receipts twice,
-- and merges are lazy), then those of the outcomes asked, newest first, at most a page of them.
-- Every row of one receipt shares its receive time, so a slice never splits a receipt.
-- A key range: (downstream_repo, accepted, received_at); the service reads the newest hour
-- first and older slices only while the page is not full. The outcome filter, when asked, is
-- spliced where the placeholder is (a condition on the receipts' best rows).
SELECT ?fields
FROM
(
    SELECT ?fields
    FROM {deliveries}
    WHERE downstream_repo = ?
      AND accepted >= ? AND accepted <= ?
      AND received_at >= toDateTime(?) AND received_at < toDateTime(?)
    ORDER BY received_at DESC, receipt_id DESC, rank DESC
    LIMIT 1 BY receipt_id
)
{outcome_condition}
ORDER BY received_at DESC, receipt_id DESC
LIMIT ?
