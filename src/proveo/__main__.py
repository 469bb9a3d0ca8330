"""`python -m proveo` runs the same command line as the `proveo` script."""

from proveo.entrypoints import main

raise SystemExit(main())
