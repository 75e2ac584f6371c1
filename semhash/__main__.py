from semhash.cli import main

main()
