"""Technical kernel: settings, db, queue, http plumbing. Imports no feature module."""
