from charrnn_tui.cli import main

raise SystemExit(main())
