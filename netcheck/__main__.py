"""`python -m netcheck`."""

try:
    from netcheck.cli.main import main
except KeyboardInterrupt:  # Ctrl-C while importing: nothing was built yet
    raise SystemExit(130) from None

raise SystemExit(main())
