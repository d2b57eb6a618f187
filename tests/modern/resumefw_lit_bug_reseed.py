"""A planted bug (resumefw_lit_ok's twin): on_load_checkpoint restores the RNG states but then
drops the dropout RNG by reseeding torch (a "reproducibility" line left in the hook), so the
resumed run draws other dropout masks (DLC965 or DLC966).

    dlcheck run --lightning resumefw_lit_bug_reseed:LitDigits --checks resume
"""

import torch

from resumefw_lit_ok import LitDigits as Healthy, digits_loader  # noqa: F401  (the loader, for users)


class LitDigits(Healthy):
    def on_load_checkpoint(self, checkpoint):
        super().on_load_checkpoint(checkpoint)
        torch.manual_seed(0)  # the bug: the restored RNG state is thrown away
