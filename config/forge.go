package config

// forge reads source.forge: where commit statuses go (SPEC §10).
func (d *decoder) forge(source *object, path string, s *Source) {
	if source.has("forge") {
		d.errorf(source.keyAt("forge"), "%s: not supported yet", path)
	}
}
