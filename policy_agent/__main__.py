"""`python -m policy_agent` runs the command-line interface."""

from policy_agent.cli import main

main()
