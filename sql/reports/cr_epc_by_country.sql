-- CR and EPC per network, country and currency over the last 30 days, from Affise's own aggregates
-- (stats_daily through the cr_epc_by_country_day view): cr = conversions / clicks,
-- epc = affiliate payouts / clicks, revenue_per_click = advertiser revenue / clicks.
SELECT
    network,
    country,
    currency,
    sum(clicks) AS clicks,
    sum(conversions) AS conversions,
    round(CAST(sum(conversions) AS DOUBLE) / NULLIF(sum(clicks), 0), 4) AS cr,
    CAST(sum(payouts) / NULLIF(sum(clicks), 0) AS DECIMAL(18,4)) AS epc,
    CAST(sum(revenue) / NULLIF(sum(clicks), 0) AS DECIMAL(18,4)) AS revenue_per_click,
    CAST(sum(revenue) AS DECIMAL(18,2)) AS revenue,
    CAST(sum(payouts) AS DECIMAL(18,2)) AS payouts
FROM cr_epc_by_country_day
WHERE day >= current_date - 30
GROUP BY network, country, currency
ORDER BY network, clicks DESC, country, currency
LIMIT 50;
