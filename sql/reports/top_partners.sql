-- The 20 partners (affiliates) with the most payouts over the last 30 UTC days,
-- in each network and currency (amounts of different currencies are never
-- compared; ids are each network's own).
SELECT
    network,
    partner_id,
    currency,
    any_value(partner_email) AS partner_email,
    sum(conversions) AS conversions,
    sum(confirmed) AS confirmed,
    CAST(sum(revenue) AS DECIMAL(18,2)) AS revenue,
    CAST(sum(payouts) AS DECIMAL(18,2)) AS payouts,
    CAST(sum(profit) AS DECIMAL(18,2)) AS profit
FROM daily_revenue
WHERE day >= current_date - 30
GROUP BY network, partner_id, currency
QUALIFY row_number() OVER (PARTITION BY network, currency ORDER BY sum(payouts) DESC, partner_id) <= 20
ORDER BY network, currency, payouts DESC, partner_id;
