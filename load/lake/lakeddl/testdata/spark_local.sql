-- Spark SQL: tables USING PARQUET in database affise. Tables are partitioned
-- by network (the Affise network's name) and, with a day column, by date below
-- it (the UTC day, YYYY-MM-DD text): filter on them to read fewer files. New
-- days and networks are seen once the partitions are recovered again: re-run
-- this script (or its MSCK REPAIR TABLE statements) after each sync.
-- Tables that have a date column of their own cannot take the date=
-- directories as partitions: they are read unpartitioned, every file.
-- Timestamps are TIMESTAMP_NTZ (Spark 3.4+), holding UTC as the lake does; on
-- older Spark use TIMESTAMP with spark.sql.session.timeZone=UTC.
-- Lake: /srv/affise-lake

CREATE DATABASE IF NOT EXISTS `affise`;

CREATE TABLE IF NOT EXISTS `affise`.`conversions` (
  `id` STRING,
  `status` STRING,
  `offer_id` BIGINT,
  `partner_id` BIGINT,
  `advertiser_id` STRING,
  `goal` STRING,
  `currency` STRING,
  `revenue` DECIMAL(18,4),
  `payouts` DECIMAL(18,4),
  `earnings` DECIMAL(18,4),
  `country` STRING,
  `city` STRING,
  `os` STRING,
  `device` STRING,
  `browser` STRING,
  `clickid` STRING,
  `action_id` STRING,
  `sub1` STRING,
  `sub2` STRING,
  `sub3` STRING,
  `sub4` STRING,
  `sub5` STRING,
  `sub6` STRING,
  `sub7` STRING,
  `sub8` STRING,
  `created_at` TIMESTAMP_NTZ,
  `click_time` TIMESTAMP_NTZ,
  `updated_at` TIMESTAMP_NTZ,
  `payment_status` STRING,
  `conversion_id` STRING,
  `cbid` STRING,
  `ip` STRING,
  `ua` STRING,
  `country_name` STRING,
  `isp_code` STRING,
  `device_type` STRING,
  `goal_value` STRING,
  `payment_type` STRING,
  `is_paid` STRING,
  `fraud_risk_level` STRING,
  `decline_reason` STRING,
  `supplier_id` STRING,
  `referrer` STRING,
  `ref_id` STRING,
  `comment` STRING,
  `city_id` BIGINT,
  `landing_id` BIGINT,
  `prelanding_id` BIGINT,
  `sum` DECIMAL(18,4),
  `custom_field_1` STRING,
  `custom_field_2` STRING,
  `custom_field_3` STRING,
  `custom_field_4` STRING,
  `custom_field_5` STRING,
  `custom_field_6` STRING,
  `custom_field_7` STRING,
  `offer` STRING,
  `partner` STRING,
  `advertiser` STRING,
  `fraud_type` STRING,
  `raw` STRING,
  `_synced_at` TIMESTAMP_NTZ,
  `network` STRING,
  `date` STRING
)
USING PARQUET
PARTITIONED BY (`network`, `date`)
LOCATION 'file:///srv/affise-lake/conversions';

MSCK REPAIR TABLE `affise`.`conversions`;

CREATE TABLE IF NOT EXISTS `affise`.`clicks` (
  `id` STRING,
  `offer_id` BIGINT,
  `partner_id` BIGINT,
  `country` STRING,
  `os` STRING,
  `device_type` STRING,
  `browser` STRING,
  `sub1` STRING,
  `sub2` STRING,
  `sub3` STRING,
  `sub4` STRING,
  `sub5` STRING,
  `sub6` STRING,
  `sub7` STRING,
  `sub8` STRING,
  `created_at` TIMESTAMP_NTZ,
  `has_conversions` BOOLEAN,
  `conversion_id` STRING,
  `click_id` STRING,
  `cbid` STRING,
  `ua` STRING,
  `country_name` STRING,
  `city` STRING,
  `region_name` STRING,
  `isp_code` STRING,
  `device` STRING,
  `device_fullname` STRING,
  `device_model` STRING,
  `os_version` STRING,
  `os_fullname` STRING,
  `browser_version` STRING,
  `browser_fullname` STRING,
  `connection_type` STRING,
  `referrer` STRING,
  `idfa` STRING,
  `smart_id` STRING,
  `ref_id` STRING,
  `os_id` STRING,
  `user_id` STRING,
  `ext1` STRING,
  `ext2` STRING,
  `ext3` STRING,
  `unid` STRING,
  `supplier_manager_id` STRING,
  `city_id` BIGINT,
  `region_id` BIGINT,
  `isp` BIGINT,
  `offer` STRING,
  `partner` STRING,
  `landing` STRING,
  `prelanding` STRING,
  `raw` STRING,
  `_synced_at` TIMESTAMP_NTZ,
  `network` STRING,
  `date` STRING
)
USING PARQUET
PARTITIONED BY (`network`, `date`)
LOCATION 'file:///srv/affise-lake/clicks';

MSCK REPAIR TABLE `affise`.`clicks`;

-- server_postbacks has a column named date: it is read unpartitioned.
CREATE TABLE IF NOT EXISTS `affise`.`server_postbacks` (
  `network` STRING,
  `id` STRING,
  `date` TIMESTAMP_NTZ,
  `click_id` STRING,
  `offer_id` BIGINT,
  `partner_id` BIGINT,
  `conversion_id` STRING,
  `get` STRING,
  `post` STRING,
  `server` STRING,
  `response` STRING,
  `_get` STRING,
  `_post` STRING,
  `track` STRING,
  `raw` STRING,
  `_synced_at` TIMESTAMP_NTZ
)
USING PARQUET
OPTIONS ('recursiveFileLookup' = 'true')
LOCATION 'file:///srv/affise-lake/server_postbacks';

-- affiliate_postbacks has a column named date: it is read unpartitioned.
CREATE TABLE IF NOT EXISTS `affise`.`affiliate_postbacks` (
  `network` STRING,
  `id` STRING,
  `date` TIMESTAMP_NTZ,
  `pid` BIGINT,
  `lead_id` STRING,
  `http_code` INT,
  `offer_id` BIGINT,
  `goal` STRING,
  `status` INT,
  `postback_url` STRING,
  `job_id` STRING,
  `raw` STRING,
  `_synced_at` TIMESTAMP_NTZ
)
USING PARQUET
OPTIONS ('recursiveFileLookup' = 'true')
LOCATION 'file:///srv/affise-lake/affiliate_postbacks';

CREATE TABLE IF NOT EXISTS `affise`.`stats_daily` (
  `day` DATE,
  `offer_id` BIGINT,
  `partner_id` BIGINT,
  `country` STRING,
  `currency` STRING,
  `clicks_raw` BIGINT,
  `clicks_uniq` BIGINT,
  `total_count` BIGINT,
  `total_revenue` DECIMAL(18,4),
  `total_charge` DECIMAL(18,4),
  `total_earning` DECIMAL(18,4),
  `confirmed_count` BIGINT,
  `confirmed_revenue` DECIMAL(18,4),
  `confirmed_charge` DECIMAL(18,4),
  `confirmed_earning` DECIMAL(18,4),
  `pending_count` BIGINT,
  `pending_revenue` DECIMAL(18,4),
  `pending_charge` DECIMAL(18,4),
  `pending_earning` DECIMAL(18,4),
  `declined_count` BIGINT,
  `declined_revenue` DECIMAL(18,4),
  `declined_charge` DECIMAL(18,4),
  `declined_earning` DECIMAL(18,4),
  `hold_count` BIGINT,
  `hold_revenue` DECIMAL(18,4),
  `hold_charge` DECIMAL(18,4),
  `hold_earning` DECIMAL(18,4),
  `raw` STRING,
  `_synced_at` TIMESTAMP_NTZ,
  `network` STRING,
  `date` STRING
)
USING PARQUET
PARTITIONED BY (`network`, `date`)
LOCATION 'file:///srv/affise-lake/stats_daily';

MSCK REPAIR TABLE `affise`.`stats_daily`;

CREATE TABLE IF NOT EXISTS `affise`.`offers` (
  `id` BIGINT,
  `offer_id` STRING,
  `title` STRING,
  `advertiser_id` STRING,
  `status` STRING,
  `privacy` STRING,
  `currency` STRING,
  `created_at` TIMESTAMP_NTZ,
  `raw` STRING,
  `_synced_at` TIMESTAMP_NTZ,
  `network` STRING
)
USING PARQUET
PARTITIONED BY (`network`)
LOCATION 'file:///srv/affise-lake/offers';

MSCK REPAIR TABLE `affise`.`offers`;

CREATE TABLE IF NOT EXISTS `affise`.`partners` (
  `id` BIGINT,
  `email` STRING,
  `login` STRING,
  `name` STRING,
  `status` STRING,
  `manager_id` STRING,
  `country` STRING,
  `created_at` TIMESTAMP_NTZ,
  `updated_at` TIMESTAMP_NTZ,
  `raw` STRING,
  `_synced_at` TIMESTAMP_NTZ,
  `network` STRING
)
USING PARQUET
PARTITIONED BY (`network`)
LOCATION 'file:///srv/affise-lake/partners';

MSCK REPAIR TABLE `affise`.`partners`;

CREATE TABLE IF NOT EXISTS `affise`.`advertisers` (
  `id` STRING,
  `title` STRING,
  `email` STRING,
  `country` STRING,
  `manager` STRING,
  `created_at` TIMESTAMP_NTZ,
  `updated_at` TIMESTAMP_NTZ,
  `raw` STRING,
  `_synced_at` TIMESTAMP_NTZ,
  `network` STRING
)
USING PARQUET
PARTITIONED BY (`network`)
LOCATION 'file:///srv/affise-lake/advertisers';

MSCK REPAIR TABLE `affise`.`advertisers`;

-- currency_rates has a column named date: it is read unpartitioned.
CREATE TABLE IF NOT EXISTS `affise`.`currency_rates` (
  `network` STRING,
  `date` DATE,
  `currency` STRING,
  `rate_per_usd` DOUBLE,
  `raw` STRING,
  `_synced_at` TIMESTAMP_NTZ
)
USING PARQUET
OPTIONS ('recursiveFileLookup' = 'true')
LOCATION 'file:///srv/affise-lake/currency_rates';
