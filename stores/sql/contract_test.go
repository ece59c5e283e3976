package sqlstore_test

import (
	"testing"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionbridgetest"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// TestContract runs the public store contract, Conditional checks
// included, on every preset, each on its package's own table, with one
// exception: connect-session-sequelize's table holds ids of at most 36
// characters (VARCHAR(36), on MariaDB and PostgreSQL) and, on MariaDB,
// records of at most 65,535 bytes (TEXT), while the contract stores a
// 128-character id and a 96 KB record, which the database refuses to
// Node as to Go (TestSequelizeLimits). Its run there widens those
// columns; nothing else of the preset changes.
func TestContract(t *testing.T) {
	e := newEnv(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := e.table(t, k)
			f.store(t, sqlstore.Options{})
			widen := map[string]string{
				"sequelize":    "ALTER TABLE `" + f.name + "` MODIFY `sid` VARCHAR(128), MODIFY `data` MEDIUMTEXT",
				"sequelize-pg": `ALTER TABLE "` + f.name + `" ALTER COLUMN "sid" TYPE VARCHAR(128)`,
			}[k.name]
			if widen != "" {
				if _, err := f.db.Exec(widen); err != nil {
					t.Fatal(err)
				}
			}
			sessionbridgetest.TestStore(t, func(t *testing.T) sessionbridge.Store {
				return f.open(t, sqlstore.Options{})
			}, sessionbridgetest.Options{})
		})
	}
}
