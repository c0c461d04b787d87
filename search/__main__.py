"""``python -m search``"""

from .cli import main

main()
