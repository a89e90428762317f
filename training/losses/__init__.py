"""Loss functions of the model families, one module per family (`vhmae`, `huang`), each a set of small pure
functions on tensors in the batch format of `vh.training.tasks.base`."""
