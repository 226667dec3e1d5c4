"""The frozen app's entry point (PyInstaller runs this file as __main__)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # first: a frozen child process must not re-run the app
    from app.main import main

    sys.exit(main())
