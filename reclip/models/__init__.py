"""ReCLIP's modules."""
