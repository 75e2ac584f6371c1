from semantic_hashing.cli import main

main()
