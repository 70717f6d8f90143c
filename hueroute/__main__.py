"""`python -m hueroute`: the command line, where the `hueroute` script is not on the PATH."""

from hueroute.cli import main

main()
