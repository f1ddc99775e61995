from kubectl_netmon.cli.main import main

main()
