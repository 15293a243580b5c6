"""The soak harness: the whole pipeline under load and faults on the local stack, and its report.

`make soak` runs it (``python -m bench.soak``); the scaled-down soaks of `make test` and `make bench`'s
throughput section run it too. Not shipped: the installed package holds what users run.

- ``run``: the soak itself (``run_soak``) and its checks;
- ``load``: the notifications it sends and the rows they require;
- ``faults``: an HTTP proxy that answers chosen AWS calls with errors (the integration tests use it too);
- ``chaos``: workers killed, the runtime restarted;
- ``report``: what it prints, and the figures it keeps in bench/soak.md.
"""
