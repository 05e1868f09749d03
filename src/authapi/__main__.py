from authapi.cli import main

main()
