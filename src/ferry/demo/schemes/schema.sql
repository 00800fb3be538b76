-- Target tables for the demo (SQLite and MariaDB compatible).
CREATE TABLE IF NOT EXISTS products (
  sku_id VARCHAR(64) PRIMARY KEY,
  item_code VARCHAR(64) NOT NULL,
  sku_name VARCHAR(255),
  unit VARCHAR(32),
  price DECIMAL(12, 2)
);
CREATE TABLE IF NOT EXISTS order_lines (
  line_id VARCHAR(128) PRIMARY KEY,
  order_no VARCHAR(64) NOT NULL,
  shop_no VARCHAR(32),
  sku_id VARCHAR(64),
  item_code VARCHAR(64) NOT NULL,
  qty INT,
  amount DECIMAL(14, 2),
  created_at VARCHAR(19)
);
