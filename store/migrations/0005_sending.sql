-- Sending: a lease on the issue being sent, and an index the triggers need.

-- Only the holder of an unexpired lease works an issue's deliveries, so a second
-- 'weekly digest send' or the daemon can never send the same issue at the same time.
-- The holder renews it while it sends; a crashed sender's lease simply expires.
ALTER TABLE issues ADD COLUMN send_lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE issues ADD COLUMN send_lease_until INTEGER NOT NULL DEFAULT 0;

-- The subscribers_left and subscribers_removed triggers look deliveries up by
-- subscriber; without this every unsubscribe would scan the whole ledger.
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id, status);
