"""Project format overrides (FORMAT_MODULE_PATH); other languages keep Django's own formats."""
