-- conversions_by_status: conversions per network, UTC day (of created_at), status and
-- currency, with the revenue (advertiser) and payouts (affiliate) of that
-- status in that currency. not_found conversions count here too.
-- Unlike daily_revenue nothing is excluded: declined money shows in its row.
-- requires: conversions(network, status, currency, revenue, payouts, created_at)
CREATE OR REPLACE VIEW conversions_by_status AS
SELECT
    network,
    CAST(created_at AS DATE) AS day,
    status,
    currency,
    count(*) AS count,
    coalesce(sum(revenue), 0) AS revenue,
    coalesce(sum(payouts), 0) AS payouts
FROM conversions
GROUP BY 1, 2, 3, 4;
