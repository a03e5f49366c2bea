"""One migration per file, in order: see `hotline.migrations` for how to add one."""
