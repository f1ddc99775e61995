from kubectl_netmon.cli.main import run

run()
