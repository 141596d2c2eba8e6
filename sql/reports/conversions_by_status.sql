-- Conversions, revenue and payouts per network, day, status and currency over the last
-- 14 days
-- (every status, declined included: see the daily_revenue view for the
-- money that counts).
SELECT network, day, status, currency, count AS conversions,
    CAST(revenue AS DECIMAL(18,2)) AS revenue,
    CAST(payouts AS DECIMAL(18,2)) AS payouts
FROM conversions_by_status
WHERE day >= current_date - 14
ORDER BY network, day DESC, status, currency;
