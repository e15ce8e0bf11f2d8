package oci

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/vzkit/vzkit/cache"
)

// FuzzManifestFromConfig feeds image configs as a registry could send
// them, seeded with the config of a real export.
func FuzzManifestFromConfig(f *testing.F) {
	cachePath := makeCache(f)
	dir := f.TempDir()
	digest, err := ExportLayout(context.Background(), cachePath, dir, Options{})
	if err != nil {
		f.Fatal(err)
	}
	raw, err := layoutImage(f, dir, digest).RawConfigFile()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := manifestFromConfig(raw)
		if err != nil {
			return
		}
		// What was accepted survives the trip through its own JSON.
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back cache.Manifest
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(&back, m) {
			t.Fatalf("manifest %+v does not round-trip: %v", m, err)
		}
	})
}
