-- The batch abort (issue 15 house item): `db.batch` is atomic but its statements cannot branch, so a
-- batch that must stop ("the compare-and-set above matched nothing") runs a statement that fails on
-- purpose. It inserts into this table, whose CHECK refuses every row: the named constraint in the
-- error tells a deliberate abort from a real failure. With a false condition the INSERT writes
-- nothing and the batch goes on. The table never holds a row. See worker/src/db/batch-abort.ts.
CREATE TABLE IF NOT EXISTS batch_abort (
  reason TEXT NOT NULL,
  CONSTRAINT batch_abort_refused CHECK (0)
);
