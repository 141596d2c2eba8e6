-- ClickHouse: a table (or view) per lake table in database affise, reading the
-- files at each query: new days are seen without running this again. The
-- columns are the DuckDB warehouse's, Nullable where a value may be NULL;
-- timestamps are DateTime64 in UTC.
--
-- file() reads only under the server's user_files_path: keep the lake there
-- (or link it there). clickhouse-local reads any path.
-- Lake: /srv/affise-lake

CREATE DATABASE IF NOT EXISTS `affise`;

CREATE OR REPLACE VIEW `affise`.`conversions` AS
SELECT * FROM file('/srv/affise-lake/conversions/network=*/date=*/*.parquet', 'Parquet', '
  `network` String,
  `id` String,
  `status` Nullable(String),
  `offer_id` Nullable(Int64),
  `partner_id` Nullable(Int64),
  `advertiser_id` Nullable(String),
  `goal` Nullable(String),
  `currency` Nullable(String),
  `revenue` Nullable(Decimal(18, 4)),
  `payouts` Nullable(Decimal(18, 4)),
  `earnings` Nullable(Decimal(18, 4)),
  `country` Nullable(String),
  `city` Nullable(String),
  `os` Nullable(String),
  `device` Nullable(String),
  `browser` Nullable(String),
  `clickid` Nullable(String),
  `action_id` Nullable(String),
  `sub1` Nullable(String),
  `sub2` Nullable(String),
  `sub3` Nullable(String),
  `sub4` Nullable(String),
  `sub5` Nullable(String),
  `sub6` Nullable(String),
  `sub7` Nullable(String),
  `sub8` Nullable(String),
  `created_at` Nullable(DateTime64(6, ''UTC'')),
  `click_time` Nullable(DateTime64(6, ''UTC'')),
  `updated_at` Nullable(DateTime64(6, ''UTC'')),
  `payment_status` Nullable(String),
  `conversion_id` Nullable(String),
  `cbid` Nullable(String),
  `ip` Nullable(String),
  `ua` Nullable(String),
  `country_name` Nullable(String),
  `isp_code` Nullable(String),
  `device_type` Nullable(String),
  `goal_value` Nullable(String),
  `payment_type` Nullable(String),
  `is_paid` Nullable(String),
  `fraud_risk_level` Nullable(String),
  `decline_reason` Nullable(String),
  `supplier_id` Nullable(String),
  `referrer` Nullable(String),
  `ref_id` Nullable(String),
  `comment` Nullable(String),
  `city_id` Nullable(Int64),
  `landing_id` Nullable(Int64),
  `prelanding_id` Nullable(Int64),
  `sum` Nullable(Decimal(18, 4)),
  `custom_field_1` Nullable(String),
  `custom_field_2` Nullable(String),
  `custom_field_3` Nullable(String),
  `custom_field_4` Nullable(String),
  `custom_field_5` Nullable(String),
  `custom_field_6` Nullable(String),
  `custom_field_7` Nullable(String),
  `offer` Nullable(String),
  `partner` Nullable(String),
  `advertiser` Nullable(String),
  `fraud_type` Nullable(String),
  `raw` String,
  `_synced_at` DateTime64(6, ''UTC'')
');

CREATE OR REPLACE VIEW `affise`.`clicks` AS
SELECT * FROM file('/srv/affise-lake/clicks/network=*/date=*/*.parquet', 'Parquet', '
  `network` String,
  `id` String,
  `offer_id` Nullable(Int64),
  `partner_id` Nullable(Int64),
  `country` Nullable(String),
  `os` Nullable(String),
  `device_type` Nullable(String),
  `browser` Nullable(String),
  `sub1` Nullable(String),
  `sub2` Nullable(String),
  `sub3` Nullable(String),
  `sub4` Nullable(String),
  `sub5` Nullable(String),
  `sub6` Nullable(String),
  `sub7` Nullable(String),
  `sub8` Nullable(String),
  `created_at` Nullable(DateTime64(6, ''UTC'')),
  `has_conversions` Nullable(Bool),
  `conversion_id` Nullable(String),
  `click_id` Nullable(String),
  `cbid` Nullable(String),
  `ua` Nullable(String),
  `country_name` Nullable(String),
  `city` Nullable(String),
  `region_name` Nullable(String),
  `isp_code` Nullable(String),
  `device` Nullable(String),
  `device_fullname` Nullable(String),
  `device_model` Nullable(String),
  `os_version` Nullable(String),
  `os_fullname` Nullable(String),
  `browser_version` Nullable(String),
  `browser_fullname` Nullable(String),
  `connection_type` Nullable(String),
  `referrer` Nullable(String),
  `idfa` Nullable(String),
  `smart_id` Nullable(String),
  `ref_id` Nullable(String),
  `os_id` Nullable(String),
  `user_id` Nullable(String),
  `ext1` Nullable(String),
  `ext2` Nullable(String),
  `ext3` Nullable(String),
  `unid` Nullable(String),
  `supplier_manager_id` Nullable(String),
  `city_id` Nullable(Int64),
  `region_id` Nullable(Int64),
  `isp` Nullable(Int64),
  `offer` Nullable(String),
  `partner` Nullable(String),
  `landing` Nullable(String),
  `prelanding` Nullable(String),
  `raw` String,
  `_synced_at` DateTime64(6, ''UTC'')
');

CREATE OR REPLACE VIEW `affise`.`server_postbacks` AS
SELECT * FROM file('/srv/affise-lake/server_postbacks/network=*/date=*/*.parquet', 'Parquet', '
  `network` String,
  `id` String,
  `date` Nullable(DateTime64(6, ''UTC'')),
  `click_id` Nullable(String),
  `offer_id` Nullable(Int64),
  `partner_id` Nullable(Int64),
  `conversion_id` Nullable(String),
  `get` Nullable(String),
  `post` Nullable(String),
  `server` Nullable(String),
  `response` Nullable(String),
  `_get` Nullable(String),
  `_post` Nullable(String),
  `track` Nullable(String),
  `raw` String,
  `_synced_at` DateTime64(6, ''UTC'')
');

CREATE OR REPLACE VIEW `affise`.`affiliate_postbacks` AS
SELECT * FROM file('/srv/affise-lake/affiliate_postbacks/network=*/date=*/*.parquet', 'Parquet', '
  `network` String,
  `id` String,
  `date` Nullable(DateTime64(6, ''UTC'')),
  `pid` Nullable(Int64),
  `lead_id` Nullable(String),
  `http_code` Nullable(Int32),
  `offer_id` Nullable(Int64),
  `goal` Nullable(String),
  `status` Nullable(Int32),
  `postback_url` Nullable(String),
  `job_id` Nullable(String),
  `raw` String,
  `_synced_at` DateTime64(6, ''UTC'')
');

CREATE OR REPLACE VIEW `affise`.`stats_daily` AS
SELECT * FROM file('/srv/affise-lake/stats_daily/network=*/date=*/*.parquet', 'Parquet', '
  `network` String,
  `day` Date32,
  `offer_id` Int64,
  `partner_id` Int64,
  `country` String,
  `currency` String,
  `clicks_raw` Int64,
  `clicks_uniq` Int64,
  `total_count` Int64,
  `total_revenue` Decimal(18, 4),
  `total_charge` Decimal(18, 4),
  `total_earning` Decimal(18, 4),
  `confirmed_count` Int64,
  `confirmed_revenue` Decimal(18, 4),
  `confirmed_charge` Decimal(18, 4),
  `confirmed_earning` Decimal(18, 4),
  `pending_count` Int64,
  `pending_revenue` Decimal(18, 4),
  `pending_charge` Decimal(18, 4),
  `pending_earning` Decimal(18, 4),
  `declined_count` Int64,
  `declined_revenue` Decimal(18, 4),
  `declined_charge` Decimal(18, 4),
  `declined_earning` Decimal(18, 4),
  `hold_count` Int64,
  `hold_revenue` Decimal(18, 4),
  `hold_charge` Decimal(18, 4),
  `hold_earning` Decimal(18, 4),
  `raw` String,
  `_synced_at` DateTime64(6, ''UTC'')
');

CREATE OR REPLACE VIEW `affise`.`offers` AS
SELECT * FROM file('/srv/affise-lake/offers/network=*/*.parquet', 'Parquet', '
  `network` String,
  `id` Int64,
  `offer_id` Nullable(String),
  `title` Nullable(String),
  `advertiser_id` Nullable(String),
  `status` Nullable(String),
  `privacy` Nullable(String),
  `currency` Nullable(String),
  `created_at` Nullable(DateTime64(6, ''UTC'')),
  `raw` String,
  `_synced_at` DateTime64(6, ''UTC'')
');

CREATE OR REPLACE VIEW `affise`.`partners` AS
SELECT * FROM file('/srv/affise-lake/partners/network=*/*.parquet', 'Parquet', '
  `network` String,
  `id` Int64,
  `email` Nullable(String),
  `login` Nullable(String),
  `name` Nullable(String),
  `status` Nullable(String),
  `manager_id` Nullable(String),
  `country` Nullable(String),
  `created_at` Nullable(DateTime64(6, ''UTC'')),
  `updated_at` Nullable(DateTime64(6, ''UTC'')),
  `raw` String,
  `_synced_at` DateTime64(6, ''UTC'')
');

CREATE OR REPLACE VIEW `affise`.`advertisers` AS
SELECT * FROM file('/srv/affise-lake/advertisers/network=*/*.parquet', 'Parquet', '
  `network` String,
  `id` String,
  `title` Nullable(String),
  `email` Nullable(String),
  `country` Nullable(String),
  `manager` Nullable(String),
  `created_at` Nullable(DateTime64(6, ''UTC'')),
  `updated_at` Nullable(DateTime64(6, ''UTC'')),
  `raw` String,
  `_synced_at` DateTime64(6, ''UTC'')
');

CREATE OR REPLACE VIEW `affise`.`currency_rates` AS
SELECT * FROM file('/srv/affise-lake/currency_rates/network=*/date=*/*.parquet', 'Parquet', '
  `network` String,
  `date` Date32,
  `currency` String,
  `rate_per_usd` Nullable(Float64),
  `raw` String,
  `_synced_at` DateTime64(6, ''UTC'')
');
