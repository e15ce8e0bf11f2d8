package distros

import (
	"embed"
	"io/fs"
)

//go:embed templates/*.yaml keys
var metadataFS embed.FS

// TemplateDir is the directory of the template files inside Metadata().
const TemplateDir = "templates"

// Metadata returns the embedded tree: templates/NAME.yaml and keys/. The
// templates name their keys relative to themselves (../keys/...).
func Metadata() fs.FS { return metadataFS }
