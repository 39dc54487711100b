from lucid.cli.main import main

main()
