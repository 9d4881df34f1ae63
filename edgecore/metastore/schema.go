package metastore

// schemaVersion is stored in SQLite's user_version; bump it with a migration
// when the tables change.
const schemaVersion = 1

// schemaSQL creates the tables. Resources are stored as "group/version/resource"
// text. meta holds the counters: "revision" (the last local revision handed
// out) and "compacted" (changes up to this revision are gone from the log).
const schemaSQL = `
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(key, value) VALUES ('revision', 0), ('compacted', 0);
CREATE TABLE IF NOT EXISTS objects (
	resource  TEXT NOT NULL,
	namespace TEXT NOT NULL,
	name      TEXT NOT NULL,
	kind      TEXT NOT NULL,
	cloud_rv  TEXT NOT NULL,
	revision  INTEGER NOT NULL,
	labels    BLOB,
	object    BLOB NOT NULL,
	PRIMARY KEY (resource, namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
	revision  INTEGER PRIMARY KEY,
	resource  TEXT NOT NULL,
	namespace TEXT NOT NULL,
	name      TEXT NOT NULL,
	type      TEXT NOT NULL,
	object    BLOB NOT NULL,
	prev      BLOB
);
CREATE INDEX IF NOT EXISTS changes_by_resource ON changes(resource, revision);
`
