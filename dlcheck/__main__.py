from dlcheck.cli import main

main()
