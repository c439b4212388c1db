-- 0009: intake that keeps every billing claim (issue 12).
--   * A CDR is stored whatever its numbers: a dimension volume that does not
--     fit DECIMAL(18,6), or could not be read, is NULL with a blocking finding
--     (never a rounded value); the raw payload keeps the number as sent.
--   * Each rejects row says whether its problem would block pricing, so a
--     listing marks only those (NULL in rows written before this migration).
ALTER TABLE cdr_dimensions ALTER COLUMN volume DROP NOT NULL;
ALTER TABLE rejects ADD COLUMN blocking BOOLEAN;
