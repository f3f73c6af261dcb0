"""Industry templates in the app: gallery, dry run, import, export and sample orders."""
