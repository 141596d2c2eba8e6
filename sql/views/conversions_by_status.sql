-- conversions_by_status: conversions per UTC day (of created_at) and status,
-- with the revenue (advertiser) and payouts (affiliate) of that status.
-- Unlike daily_revenue nothing is excluded: declined money shows in its row.
-- requires: conversions(status, revenue, payouts, created_at)
CREATE OR REPLACE VIEW conversions_by_status AS
SELECT
    CAST(created_at AS DATE) AS day,
    status,
    count(*) AS count,
    coalesce(sum(revenue), 0) AS revenue,
    coalesce(sum(payouts), 0) AS payouts
FROM conversions
GROUP BY 1, 2;
