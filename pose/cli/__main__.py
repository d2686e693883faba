"""``python -m pose.cli ...`` (and ``torchrun -m pose.cli ...``): the ``pose`` command."""

from pose.cli import main

if __name__ == "__main__":  # importing the module (e.g. walking the package) must not run the command
    main()
