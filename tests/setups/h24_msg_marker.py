"""A healthy digits set-up that writes a marker file when imported (path from DLC_MARKER): a test
can tell whether dlcheck imported it."""

import os
from pathlib import Path

from _digits import loader, mlp

if os.environ.get("DLC_MARKER"):
    Path(os.environ["DLC_MARKER"]).write_text("imported")

model = mlp
train_loader = loader()
