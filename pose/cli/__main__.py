"""``python -m pose.cli ...`` (and ``torchrun -m pose.cli ...``): the ``pose`` command."""

from pose.cli import main

main()
