"""Admin scripts built on the generated client. Run them as modules from the checkout
(`python -m scripts.approve_pending …`); this package puts clients/python on the path."""

import sys
from pathlib import Path

CLIENTS = Path(__file__).resolve().parent.parent / "clients" / "python"
if str(CLIENTS) not in sys.path:
    sys.path.insert(0, str(CLIENTS))
