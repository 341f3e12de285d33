// Package diskuse measures what a directory takes on disk, for the
// benchmarks' bytes per row.
package diskuse

import (
	"io/fs"
	"path/filepath"
)

// Size is the total size of the regular files under dir.
func Size(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		size += info.Size()
		return nil
	})
	return size, err
}
