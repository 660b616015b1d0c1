"""logitlenskit: an interactive logit-lens explorer for transformer language models."""
