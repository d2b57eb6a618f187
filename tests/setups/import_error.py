"""A target whose own import fails."""

import torch

WIDTH = int("sixty-four")
