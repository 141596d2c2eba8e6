-- The 20 partners (affiliates) with the most payouts over the last 30 UTC days.
SELECT
    partner_id,
    any_value(partner_email) AS partner_email,
    sum(conversions) AS conversions,
    sum(confirmed) AS confirmed,
    sum(revenue) AS revenue,
    sum(payouts) AS payouts,
    sum(profit) AS profit
FROM daily_revenue
WHERE day >= current_date - 30
GROUP BY partner_id
ORDER BY payouts DESC, partner_id
LIMIT 20;
