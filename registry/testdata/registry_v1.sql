-- A registry as xp 0.0.x wrote it (schema version 1): the fixture of the migration test.
-- v1 had no tags, no per-metric statistics, no numeric column for params and a rowid metrics table.
CREATE TABLE schema_version(version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE runs(
  rid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  experiment TEXT NOT NULL,
  variant TEXT NOT NULL DEFAULT '',
  seed INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  start_time REAL NOT NULL,
  end_time REAL,
  host TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0,
  command_line TEXT NOT NULL DEFAULT '',
  xp_version TEXT NOT NULL DEFAULT '',
  torch_version TEXT NOT NULL DEFAULT '',
  device TEXT NOT NULL DEFAULT '',
  git_commit TEXT NOT NULL DEFAULT '',
  git_dirty INTEGER NOT NULL DEFAULT 0,
  config_hash TEXT NOT NULL DEFAULT '',
  config_text TEXT NOT NULL DEFAULT '',
  run_dir TEXT NOT NULL DEFAULT '');
CREATE TABLE params(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY(rid, key)) WITHOUT ROWID;
CREATE TABLE summary(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL);
CREATE TABLE artifacts(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  path TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT '',
  size INTEGER,
  sha256 TEXT NOT NULL DEFAULT '',
  time REAL,
  PRIMARY KEY(rid, path)) WITHOUT ROWID;
CREATE TABLE metrics(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  name TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  step INTEGER NOT NULL,
  value REAL,
  time REAL);

INSERT INTO runs(rid, id, experiment, variant, seed, status, start_time, end_time, host, pid, command_line,
                 xp_version, torch_version, device, git_commit, config_hash, config_text, run_dir)
VALUES (1, 'r0old0001abcd', 'old_exp', 'focal', 1, 'finished', 1700000000, 1700000120, 'lab1', 4242,
        'xp run old.toml', '0.0.9', '1.13.1', 'cpu', 'deadbeef', 'abc', '[loss]' || char(10) || 'gamma = 2.0' || char(10), '/data/xp-runs/old_exp/r0old0001abcd'),
       (2, 'r0old0002abcd', 'old_exp', 'ce', 1, 'failed', 1700000200, 1700000210, 'lab1', 4243,
        'xp run old.toml', '0.0.9', '1.13.1', 'cpu', 'deadbeef', 'abd', '', '/data/xp-runs/old_exp/r0old0002abcd');
INSERT INTO params VALUES (1, 'loss.gamma', '2.0'), (1, 'loss.name', 'focal'), (2, 'loss.name', 'ce');
INSERT INTO summary VALUES (1, 'best_val_acc', 0.9), (1, 'test_acc', 0.88);
INSERT INTO metrics VALUES
  (1, 'val_acc', 0, 100, 0.7, 1700000040), (1, 'train_loss', 0, 100, 0.9, 1700000040),
  (1, 'val_acc', 1, 200, 0.85, 1700000080), (1, 'train_loss', 1, 200, 0.5, 1700000080),
  (1, 'val_acc', 2, 300, 0.9, 1700000120), (1, 'train_loss', 2, 300, 0.4, 1700000120),
  (2, 'train_loss', 0, 100, 2.5, 1700000210);
INSERT INTO artifacts VALUES (1, '/data/xp-runs/old_exp/r0old0001abcd/best.pt', 'checkpoint', 1000, 'ff', 1700000120);
