-- The MES table the scheme updates (it exists in the MOM database; shown for tests and demos).
-- An order missing from it is not delivered: its record waits on the retry ladder until the row exists.
CREATE TABLE IF NOT EXISTS mt_so_head (
  SO_NUMBER VARCHAR(64) PRIMARY KEY,
  SO_STATUS VARCHAR(16) NOT NULL DEFAULT 'OPEN'
);
