"""A planted bug (resumefw_lit_ok's twin): the running input mean is a plain tensor attribute,
not a buffer, so Lightning's checkpoint (the state_dict) does not hold it and a resumed run
standardises with the fresh zeros (DLC962).

    dlcheck run --lightning resumefw_lit_bug_plain_attribute:LitDigits --checks resume
"""

import torch

from resumefw_lit_ok import LitDigits as Healthy, digits_loader  # noqa: F401  (the loader, for users)


class LitDigits(Healthy):
    def __init__(self, lr=1e-3):
        super().__init__(lr)
        del self.mean  # the bug: a plain attribute instead of the buffer
        self.mean = torch.zeros(64)  # running input mean, updated while training
