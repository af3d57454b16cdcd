-- Token buckets of store-backed rate limiters, shared by every process using the same limiter name.
-- tokens: tokens held at updated_at (fractional while refilling); updated_at: UNIX epoch ms;
-- last_allowed: 1/0, the outcome of the latest acquire, returned by that acquire's own statement.
CREATE TABLE garrison_rate_buckets (
  limiter TEXT NOT NULL,
  bucket_key TEXT NOT NULL,
  tokens DOUBLE PRECISION NOT NULL,
  updated_at BIGINT NOT NULL,
  last_allowed INTEGER NOT NULL CHECK (last_allowed IN (0, 1)),
  PRIMARY KEY (limiter, bucket_key)
);

-- Cleanup finds idle buckets of one limiter by age.
CREATE INDEX garrison_rate_buckets_idle ON garrison_rate_buckets (limiter, updated_at);
