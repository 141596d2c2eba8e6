-- daily_revenue_rc: daily_revenue with its money also in the reporting
-- currency (reporting_currency in syncd.yaml, recorded in _syncd_meta):
-- revenue_rc, payouts_rc and profit_rc convert each row's money at the rate
-- of its day, from currency_rates (quotes per USD): the latest snapshot at
-- or before the day, or, for days before syncd's first snapshot, the
-- earliest one (Affise keeps no rate history), each network at its own
-- rates. NULL when a currency has no rate at all. Sum *_rc columns across currencies; never the raw ones.
-- requires: conversions(network, status, offer_id, partner_id, currency, revenue, payouts, created_at)
-- requires: offers(network, id, title)
-- requires: partners(network, id, email)
-- requires: currency_rates(network, date, currency, rate_per_usd)
CREATE OR REPLACE VIEW daily_revenue_rc AS
WITH rc AS (
    SELECT coalesce((SELECT value FROM _syncd_meta WHERE key = 'reporting_currency'), 'USD') AS currency
),
first_rate AS (
    SELECT network, currency, arg_min(rate_per_usd, date) AS rate_per_usd FROM currency_rates GROUP BY network, currency
),
d AS (
    SELECT d.*, rc.currency AS reporting_currency FROM daily_revenue d CROSS JOIN rc
),
priced AS (
    SELECT
        d.*,
        coalesce(r.rate_per_usd, f.rate_per_usd) AS rate,
        coalesce(t.rate_per_usd, g.rate_per_usd) AS rate_rc
    FROM d
    ASOF LEFT JOIN currency_rates r ON r.network = d.network AND r.currency = d.currency AND d.day >= r.date
    LEFT JOIN first_rate f ON f.network = d.network AND f.currency = d.currency
    ASOF LEFT JOIN currency_rates t ON t.network = d.network AND t.currency = d.reporting_currency AND d.day >= t.date
    LEFT JOIN first_rate g ON g.network = d.network AND g.currency = d.reporting_currency
)
SELECT
    network, day, offer_id, offer_title, partner_id, partner_email, currency,
    conversions, confirmed, pending, declined, hold, not_found,
    revenue, payouts, profit,
    reporting_currency,
    CAST(revenue / rate * rate_rc AS DECIMAL(18,4)) AS revenue_rc,
    CAST(payouts / rate * rate_rc AS DECIMAL(18,4)) AS payouts_rc,
    CAST(profit / rate * rate_rc AS DECIMAL(18,4)) AS profit_rc
FROM priced;
