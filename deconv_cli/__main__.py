from deconv_cli.cli import main

main()
