-- Target table of seed 001 (MySQL/MariaDB; SQLite accepts it too). One row per after-sales item.
CREATE TABLE IF NOT EXISTS aftersale_list_query (
  id VARCHAR(32) NOT NULL,
  tid VARCHAR(64),
  status INT,
  after_sale_type INT,
  created VARCHAR(19),
  modified VARCHAR(19),
  outer_id VARCHAR(64) NOT NULL,
  title VARCHAR(255),
  qty INT,
  PRIMARY KEY (id, outer_id)
);
