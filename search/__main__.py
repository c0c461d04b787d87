"""``python -m search``"""

from .launch import main

main()
