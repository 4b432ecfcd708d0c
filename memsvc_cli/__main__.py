from memsvc_cli.main import main

raise SystemExit(main())
