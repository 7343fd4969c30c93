from tunespec.cli import main

raise SystemExit(main())
