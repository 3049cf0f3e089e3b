"""Development equipment: the lab `make run` starts (vcsim, the CloudStack emulator, an agent) and `run_platform`.

It sits above every app and may import all of them and `lab/`; no product code imports it (tests/core/
test_architecture.py). It creates its rows through the apps' services, as an operator's tools would.
"""
