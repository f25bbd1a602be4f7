"""``python -m lambdastream.runtime [module.function]``: load the handler, serve.

The handler defaults to ``$_HANDLER``. See :mod:`lambdastream.runtime.bootstrap`
for the other ways in (the layer's exec wrapper, a container entrypoint).
"""

import sys

from lambdastream.runtime.bootstrap import main

if __name__ == "__main__":
    sys.exit(main())
